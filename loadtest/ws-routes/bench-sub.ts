/** The WebSocket bench's subscribers (loadtest/websocket.ts): subscribed to `fan` on open. */
import type { WsConnection } from '../../src/api.js';

export function open(ws: WsConnection): void {
  ws.subscribe('fan');
}
