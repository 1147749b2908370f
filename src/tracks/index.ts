/**
 * The track registry: every track a route can name, in one list. Adding a track is a folder
 * under src/tracks/ and one line here; the route schema, the config types and the route table
 * are all derived from this list.
 */
import { handlerTrack } from './handler/index.js';
import { metricsTrack } from './metrics/index.js';
import { proxyTrack } from './proxy/index.js';
import { redirectTrack } from './redirect/index.js';
import { respondTrack } from './respond/index.js';
import { staticTrack } from './static/index.js';
import { statusTrack } from './status/index.js';
import { websocketTrack } from './websocket/index.js';

export const tracks = [
  handlerTrack,
  proxyTrack,
  respondTrack,
  redirectTrack,
  staticTrack,
  websocketTrack,
  metricsTrack,
  statusTrack,
] as const;

export type { CheckRefs, CommonRoute, CompileEnv, RunFn, Track } from './track.js';
