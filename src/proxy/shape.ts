/**
 * The shape of one upstream response head, decided once and reused while heads repeat it
 * (response-headers.ts): each field's lower-cased name, what happens to it (dropped, kept, or read
 * as Content-Length), and the client string of each kept value as it was first seen. A head
 * matches when its names, and its `Connection` values (which name more fields to drop), are the
 * same bytes in the same order.
 */
import { util } from 'undici';
import { connectionNames, toClientValue } from './header-rules.js';

const { headerNameToString } = util;

export const Act = { Drop: 0, Keep: 1 } as const;
/** Values longer than this are decoded every time (cookies, long tokens: rarely repeated). */
const CACHED_VALUE = 64;

/** Same bytes? A loop: for header-sized buffers cheaper than the native `equals`. */
export function sameBytes(a: Buffer, b: Buffer): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class HeadShape {
  /** the raw name bytes (copies: undici's buffers are not ours to keep) */
  private readonly names: Buffer[];
  /** per field: Act.Drop or Act.Keep */
  readonly act: Uint8Array;
  readonly lower: string[];
  /** per kept field: its value bytes as first seen (undefined: not cached) */
  readonly values: (Buffer | undefined)[];
  /** per kept field: the client string of `values[i]` */
  readonly strings: (string | undefined)[];
  /** `Connection` fields: index → value bytes, part of the match */
  private readonly connection: { at: number; value: Buffer }[] = [];
  /** every kept value is cached (so `shared` can stand for a head with the same values) */
  readonly allKnown: boolean = true;
  /** the client's fields for a head with exactly this shape's values (set by response-headers.ts) */
  shared: Readonly<Record<string, string | readonly string[]>> | null = null;
  /** how many Content-Length fields, and where the last one is */
  readonly lengths: number = 0;
  readonly lengthAt: number = -1;

  constructor(raw: readonly Buffer[], drop: ReadonlySet<string>) {
    const n = raw.length >> 1;
    this.names = new Array<Buffer>(n);
    this.lower = new Array<string>(n);
    this.act = new Uint8Array(n);
    this.values = new Array<Buffer | undefined>(n).fill(undefined);
    this.strings = new Array<string | undefined>(n).fill(undefined);
    let named: string[] | null = null;
    for (let i = 0; i < n; i++) {
      const name = headerNameToString(raw[2 * i]!);
      this.names[i] = Buffer.from(raw[2 * i]!);
      this.lower[i] = name;
      if (name === 'connection') {
        const value = raw[2 * i + 1]!;
        this.connection.push({ at: i, value: Buffer.from(value) });
        named = connectionNames(value.toString('latin1'), named);
      } else if (name === 'content-length') {
        this.lengths++;
        this.lengthAt = i;
      }
    }
    for (let i = 0; i < n; i++) {
      const name = this.lower[i]!;
      if (drop.has(name) || named?.includes(name)) continue;
      this.act[i] = Act.Keep;
      const bytes = raw[2 * i + 1]!;
      const c = bytes.length > CACHED_VALUE ? undefined : toClientValue(bytes.toString('latin1'));
      if (c === undefined) {
        // too long to remember, or invalid (filter decodes it again and refuses the head)
        this.allKnown = false;
        continue;
      }
      this.values[i] = Buffer.from(bytes);
      this.strings[i] = c;
    }
  }

  /** Are the kept values of `raw` (a head of this shape) the remembered ones, byte for byte? */
  sameValues(raw: readonly Buffer[]): boolean {
    const act = this.act;
    const values = this.values;
    for (let i = 0; i < act.length; i++) {
      if (act[i] !== Act.Keep) continue;
      const known = values[i];
      if (known === undefined || !sameBytes(raw[2 * i + 1]!, known)) return false;
    }
    return true;
  }

  /** Does `raw` have this shape (names, and Connection values, byte for byte)? */
  matches(raw: readonly Buffer[]): boolean {
    const names = this.names;
    if (raw.length !== 2 * names.length) return false;
    for (let i = 0; i < names.length; i++) if (!sameBytes(raw[2 * i]!, names[i]!)) return false;
    const conn = this.connection;
    for (let k = 0; k < conn.length; k++) {
      const c = conn[k]!;
      if (!sameBytes(raw[2 * c.at + 1]!, c.value)) return false;
    }
    return true;
  }
}
