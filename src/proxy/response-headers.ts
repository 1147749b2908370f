/**
 * The upstream's response fields as the client gets them: hop-by-hop fields, names listed in the
 * upstream's `Connection`, Proxy-Authenticate and the framing fields are dropped (uWS writes
 * Content-Length / Transfer-Encoding / Date itself: copied ones would go on the wire twice,
 * docs/uws.md), then the route's `response_headers` rules apply.
 *
 * A value with control characters makes the response invalid (nginx: "upstream sent invalid
 * header", 502) rather than being passed to uWS, which does not check what it writes.
 *
 * Per response the work is byte comparisons, not decoding: an upstream answers a route with the
 * same field names in the same order nearly every time, and many values repeat (Content-Type,
 * Server, Cache-Control). So the route remembers the last few heads' shapes (shape.ts): the
 * lower-cased names and what to do with each field, decided once, and the client string of each
 * kept value as first seen. A head whose names match a shape byte for byte reuses its decisions
 * and every value whose bytes match too; the others are decoded and checked as before.
 * `Connection` values are part of a shape (they decide which names are dropped).
 */
import type { ProxyRouteConfig } from '../tracks/proxy/schema.js';
import { type CompiledRules, compileRules, HOP_BY_HOP, toClientValue } from './header-rules.js';
import { Act, HeadShape, sameBytes } from './shape.js';

/**
 * The client's fields: a fresh record, or a frozen one shared by every response with the same
 * head (nothing after the track mutates a reply's headers; compression copies them first, and a
 * write to a frozen record would throw rather than leak into other responses).
 */
export type ClientFields = Readonly<Record<string, string | readonly string[]>>;

function deepFreeze(r: Record<string, string | string[]>): ClientFields {
  for (const k in r) {
    const v = r[k];
    if (typeof v !== 'string') Object.freeze(v);
  }
  return Object.freeze(r);
}

const FRAMING = ['content-length', 'date'];
const FORBIDDEN = new Set([...HOP_BY_HOP, ...FRAMING]);
/** Heads remembered per route (a route may proxy to paths that answer differently). */
const SHAPES = 4;

/** Content-Length bytes as a number: 1-15 ASCII digits, else undefined. */
function lengthOf(b: Buffer): number | undefined {
  const n = b.length;
  if (n === 0 || n > 15) return undefined;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = b[i]! - 48;
    if (c < 0 || c > 9) return undefined;
    v = v * 10 + c;
  }
  return v;
}

export class ResponseHeaders {
  private readonly drop: ReadonlySet<string>;
  private readonly rules: CompiledRules;
  private readonly shapes: HeadShape[] = [];
  private nextShape = 0;

  constructor(route: ProxyRouteConfig, where: string) {
    this.rules = compileRules(route.response_headers, `${where}.response_headers`, FORBIDDEN);
    this.drop = new Set([...FORBIDDEN, 'proxy-authenticate', '__proto__', ...this.rules.drop]);
  }

  /**
   * Content-Length of the response `filter` last read: the number when it had exactly one valid
   * one, else undefined (read right after `filter`, which is synchronous).
   */
  length: number | undefined = undefined;

  /**
   * The client's copy of undici's raw response head ([name, value, …] as bytes, names in any
   * case), or null when a value is invalid. No intermediate object of all fields (undici's
   * parseHeaders) is built per response.
   */
  filter(raw: readonly Buffer[]): ClientFields | null {
    const shape = this.shapeOf(raw);
    this.length = shape.lengths === 1 ? lengthOf(raw[2 * shape.lengthAt + 1]!) : undefined;
    const shared = shape.shared;
    if (shared !== null && shape.sameValues(raw)) return shared;
    return this.record(shape, raw);
  }

  /**
   * The fields of a head of `shape` (`raw` null: the shape's own values, all known valid), with
   * the route's rules applied; null when a value is invalid.
   */
  private record(shape: HeadShape, raw: readonly Buffer[] | null): Record<string, string | string[]> | null {
    const act = shape.act;
    const names = shape.lower;
    const values = shape.values;
    const strings = shape.strings;
    const out: Record<string, string | string[]> = {};
    for (let i = 0; i < act.length; i++) {
      if (act[i] !== Act.Keep) continue;
      let c: string | undefined;
      if (raw === null) c = strings[i]!;
      else {
        const bytes = raw[2 * i + 1]!;
        const known = values[i];
        if (known !== undefined && sameBytes(bytes, known)) c = strings[i]!;
        else {
          c = toClientValue(bytes.toString('latin1'));
          if (c === undefined) return null;
        }
      }
      const name = names[i]!;
      const prev = out[name];
      if (prev === undefined) out[name] = c;
      else if (typeof prev === 'string') out[name] = [prev, c];
      else prev.push(c);
    }
    const { set, add } = this.rules;
    for (let i = 0; i < set.length; i += 2) out[set[i]!] = set[i + 1]!;
    for (let i = 0; i < add.length; i += 2) {
      const name = add[i]!;
      const prev = out[name];
      out[name] =
        prev === undefined ? add[i + 1]! : [...(typeof prev === 'string' ? [prev] : prev), add[i + 1]!];
    }
    return out;
  }

  /** The remembered shape matching `raw`, or a new one (replacing the oldest). */
  private shapeOf(raw: readonly Buffer[]): HeadShape {
    const shapes = this.shapes;
    for (let s = 0; s < shapes.length; s++) if (shapes[s]!.matches(raw)) return shapes[s]!;
    const shape = new HeadShape(raw, this.drop);
    // Every kept value known: a head with the same values gets one shared, frozen record.
    if (shape.allKnown) shape.shared = deepFreeze(this.record(shape, null)!);
    if (shapes.length < SHAPES) shapes.push(shape);
    else {
      shapes[this.nextShape] = shape;
      this.nextShape = (this.nextShape + 1) % SHAPES;
    }
    return shape;
  }
}
