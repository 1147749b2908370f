/**
 * Content negotiation on Accept-Encoding (RFC 9110 §12.5.3) with `negotiator`: the encodings of
 * `offered` the client accepts, best first by the client's q-values, ties broken by the order of
 * `offered` (the server's preference). `identity` is acceptable unless refused (`identity;q=0`
 * or `*;q=0`). Used by the static track (precompressed files) and the compression wrapper.
 */
import Negotiator from 'negotiator';

type WithPreferred = (available: string[], options: { preferred: string[] }) => string[];

export function acceptedEncodings(header: string | undefined, offered: string[]): string[] {
  const n = new Negotiator({ headers: { 'accept-encoding': header } });
  // negotiator 1.x takes `preferred`; its DefinitelyTyped types (0.6) do not know it yet.
  return (n.encodings as unknown as WithPreferred)(offered, { preferred: offered });
}
