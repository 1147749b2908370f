import { type Context, type Reply, text } from '../src/api.js';

const HELLO = text('Hello world!');

/** GET /hello → "Hello world!" (12 bytes, text/plain). The reply is built once. */
export default function hello(_ctx: Context): Reply {
  return HELLO;
}
