/**
 * Bar charts of a throughput scenario as a standalone SVG string (no chart library, no external
 * service): one panel per measure — CPU µs per request, req/s, p99 — one bar per contender, with
 * the contender's ratio to the reference (median of per-round ratios) written beside its bar and the
 * reference's value drawn as a dashed line. Switchyard's rows are drawn in
 * their own colour so a reader finds them at a glance.
 */
import type { ThroughputResult, ThroughputRow } from './scenarios.js';

interface Panel {
  title: string;
  value(row: ThroughputRow): number | undefined;
  /** The row's ratio to the reference: the median of per-round ratios, as in the table. */
  ratio(row: ThroughputRow): number | undefined;
  format(n: number): string;
}

const PANELS: Panel[] = [
  {
    title: 'CPU µs per request (lower is better)',
    value: (r) => r.cpuUs,
    ratio: (r) => r.cpuVsReference,
    format: (n) => n.toFixed(1),
  },
  {
    title: 'requests per second (higher is better)',
    value: (r) => r.rps,
    ratio: (r) => r.vsReference,
    format: (n) => `${(n / 1000).toFixed(1)}k`,
  },
  {
    title: 'p99 latency ms (lower is better)',
    value: (r) => r.p99,
    ratio: (r) => r.p99VsReference,
    format: (n) => n.toFixed(2),
  },
];

const ROW = 22;
const LABEL_W = 220;
const PANEL_W = 250;
const GAP = 24;
const TOP = 48;
const COLOURS = { ours: '#d9480f', floor: '#f59f00', reference: '#495057', other: '#74c0fc' };

export function throughputSvg(s: ThroughputResult): string {
  const rows = s.rows.filter((r) => r.status === 'ok' && r.cpuUs !== undefined);
  const width = LABEL_W + PANELS.length * (PANEL_W + GAP) + 10;
  const height = TOP + rows.length * ROW + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="8" y="18" font-size="14" font-weight="bold">${esc(`${s.title} — ${s.request}`)}</text>`,
  ];
  rows.forEach((row, i) => {
    const y = TOP + i * ROW;
    out.push(`<text x="${LABEL_W - 8}" y="${y + 15}" text-anchor="end">${esc(row.label)}</text>`);
  });
  const ref = s.rows.find((r) => r.server === s.reference);
  PANELS.forEach((panel, p) => {
    const x0 = LABEL_W + p * (PANEL_W + GAP);
    const barMax = PANEL_W - 70;
    out.push(`<text x="${x0}" y="${TOP - 12}" font-weight="bold">${esc(panel.title)}</text>`);
    const values = rows.map((r) => panel.value(r) ?? 0);
    const max = Math.max(...values, 1e-9);
    const refValue = ref ? panel.value(ref) : undefined;
    rows.forEach((row, i) => {
      const v = values[i]!;
      const y = TOP + i * ROW;
      const w = Math.max(1, (v / max) * barMax);
      out.push(
        `<rect x="${x0}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" fill="${colour(row, s)}"/>`,
      );
      const r = panel.ratio(row);
      const ratio = r === undefined ? '' : ` (${r.toFixed(2)}×)`;
      out.push(`<text x="${(x0 + w + 4).toFixed(1)}" y="${y + 15}">${esc(panel.format(v) + ratio)}</text>`);
    });
    if (refValue) {
      const rx = x0 + (refValue / max) * barMax;
      out.push(
        `<line x1="${rx.toFixed(1)}" y1="${TOP - 4}" x2="${rx.toFixed(1)}" y2="${TOP + rows.length * ROW}" stroke="#495057" stroke-dasharray="3,3"/>`,
      );
    }
  });
  const legendY = TOP + rows.length * ROW + 20;
  const legend: [string, string][] = [
    ['Switchyard', COLOURS.ours],
    ['floor of our stack', COLOURS.floor],
    [`reference (${ref?.label ?? s.reference}), dashed line`, COLOURS.reference],
    ['others', COLOURS.other],
  ];
  let lx = 8;
  for (const [name, fill] of legend) {
    out.push(`<rect x="${lx}" y="${legendY - 10}" width="12" height="12" fill="${fill}"/>`);
    out.push(`<text x="${lx + 16}" y="${legendY}">${esc(name)}</text>`);
    lx += 36 + name.length * 6.5;
  }
  out.push('</svg>', '');
  return out.join('\n');
}

function colour(row: ThroughputRow, s: ThroughputResult): string {
  if (row.server.startsWith('switchyard')) return COLOURS.ours;
  if (row.server === s.reference) return COLOURS.reference;
  if (row.server === s.floor || row.server.startsWith('uws-')) return COLOURS.floor;
  return COLOURS.other;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
