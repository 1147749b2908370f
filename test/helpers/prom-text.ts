/**
 * A small strict parser for the Prometheus text exposition format 0.0.4, for tests: every line is
 * a `# HELP`, a `# TYPE`, a sample or empty; names and labels follow the grammar; every sample
 * belongs to a family declared by a TYPE before it; no series appears twice; histogram buckets are
 * cumulative and end with `le="+Inf"` equal to `_count`. Throws naming the line on any violation.
 */
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
  /** the value of one series, or undefined */
  get(name: string, labels?: Record<string, string>): number | undefined;
}

function parseValue(v: string, line: string): number {
  // Prometheus reads values with Go's ParseFloat, which takes NaN and Inf in any case.
  if (/^\+?inf$/i.test(v)) return Number.POSITIVE_INFINITY;
  if (/^-inf$/i.test(v)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(v)) return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) throw new Error(`bad value "${v}" in: ${line}`);
  return Number(v);
}

function parseLabels(s: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const eq = s.indexOf('=', i);
    if (eq === -1) throw new Error(`bad labels in: ${line}`);
    const name = s.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`bad label name "${name}" in: ${line}`);
    if (name in out) throw new Error(`duplicate label "${name}" in: ${line}`);
    if (s[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let j = eq + 2;
    let value = '';
    for (;;) {
      if (j >= s.length) throw new Error(`unterminated label value in: ${line}`);
      const c = s[j]!;
      if (c === '\\') {
        const n = s[j + 1];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else throw new Error(`bad escape in: ${line}`);
        j += 2;
      } else if (c === '"') {
        j++;
        break;
      } else {
        value += c;
        j++;
      }
    }
    out[name] = value;
    if (j < s.length) {
      if (s[j] !== ',') throw new Error(`expected , between labels in: ${line}`);
      j++;
    }
    i = j;
  }
  return out;
}

export function parseExposition(text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const familyOf = (name: string): string | undefined => {
    if (types.has(name)) return name;
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (name.endsWith(suffix)) {
        const base = name.slice(0, -suffix.length);
        if (types.get(base) === 'histogram' || types.get(base) === 'summary') return base;
      }
    }
    return undefined;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) continue; // a comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name!)) throw new Error(`bad metric name in: ${line}`);
      if (kind === 'TYPE') {
        if (!/^(counter|gauge|histogram|summary|untyped)$/.test(rest!))
          throw new Error(`bad type in: ${line}`);
        if (types.has(name!)) throw new Error(`second TYPE for ${name}`);
        types.set(name!, rest!);
      } else {
        if (helps.has(name!)) throw new Error(`second HELP for ${name}`);
        helps.add(name!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (m === null) throw new Error(`not a sample: ${line}`);
    const name = m[1]!;
    const labels = m[2] === undefined ? {} : parseLabels(m[2], line);
    const value = parseValue(m[3]!, line);
    const fam = familyOf(name);
    if (fam === undefined) throw new Error(`sample without a TYPE: ${line}`);
    if (types.get(fam) === 'counter' && !(value >= 0)) throw new Error(`negative counter: ${line}`);
    const key = `${name}{${Object.entries(labels)
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}}`;
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`);
    seen.add(key);
    samples.push({ name, labels, value });
  }
  // Histograms: cumulative buckets ending in +Inf == _count.
  for (const [fam, type] of types) {
    if (type !== 'histogram') continue;
    const groups = new Map<string, Sample[]>();
    for (const s of samples) {
      if (s.name !== `${fam}_bucket`) continue;
      const { le, ...rest } = s.labels;
      if (le === undefined) throw new Error(`${fam}_bucket without le`);
      const k = JSON.stringify(Object.entries(rest).sort());
      groups.set(k, [...(groups.get(k) ?? []), s]);
    }
    for (const [k, buckets] of groups) {
      let prev = -1;
      let prevLe = Number.NEGATIVE_INFINITY;
      for (const b of buckets) {
        const le = parseValue(b.labels.le!, 'le');
        if (le <= prevLe) throw new Error(`${fam} buckets out of order for ${k}`);
        if (b.value < prev) throw new Error(`${fam} buckets not cumulative for ${k}`);
        prev = b.value;
        prevLe = le;
      }
      if (prevLe !== Number.POSITIVE_INFINITY) throw new Error(`${fam} has no +Inf bucket for ${k}`);
      const labels = Object.fromEntries(JSON.parse(k) as [string, string][]);
      const count = samples.find(
        (s) =>
          s.name === `${fam}_count` &&
          JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()),
      );
      if (count === undefined || count.value !== prev)
        throw new Error(`${fam}: +Inf bucket is not _count for ${k}`);
    }
  }
  return {
    types,
    samples,
    get(name, labels = {}) {
      const want = Object.entries(labels);
      return samples.find(
        (s) =>
          s.name === name &&
          want.every(([k, v]) => s.labels[k] === v) &&
          Object.keys(s.labels).length === want.length,
      )?.value;
    },
  };
}
