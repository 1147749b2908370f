/**
 * The WebSocket bench's Switchyard side (loadtest/websocket.ts): echoes each message; a text
 * message `pub:REST` publishes REST on the topic `fan` instead (the websocket track's pub/sub).
 */
import type { WsConnection } from '../../src/api.js';

export function message(ws: WsConnection, data: string | Buffer, binary: boolean): void {
  if (!binary && (data as string).startsWith('pub:')) ws.publish('fan', (data as string).slice(4));
  else ws.send(data);
}
