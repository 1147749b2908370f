/**
 * The status page: one HTML document with its style and script inline (no external assets, works
 * offline). The script fetches `?format=json` (StatusSnapshot, src/observe/views.ts) every second
 * and renders it; requests per second are the difference between two snapshots over their time
 * difference. Cells carry `data-k` names (and rows `data-route` / `data-server`) so a test can
 * read the numbers a person sees.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard status</title>
<style>
  :root { --bg:#0f1419; --panel:#161d26; --line:#253041; --fg:#d8e0ea; --dim:#8393a7; --ok:#3fb950; --warn:#d29922; --bad:#f85149; --acc:#58a6ff; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
  header { display:flex; flex-wrap:wrap; gap:24px; align-items:baseline; padding:16px 24px; border-bottom:1px solid var(--line); }
  h1 { font-size:18px; margin:0 16px 0 0; }
  h2 { font-size:14px; text-transform:uppercase; letter-spacing:.08em; color:var(--dim); margin:24px 24px 8px; }
  .kv { color:var(--dim); } .kv b { color:var(--fg); font-weight:600; font-variant-numeric:tabular-nums; }
  table { border-collapse:collapse; margin:0 24px; min-width:calc(100% - 48px); background:var(--panel); }
  th, td { padding:6px 12px; border-bottom:1px solid var(--line); text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
  th { color:var(--dim); font-weight:500; background:#1b2430; }
  th:first-child, td:first-child, td.l, th.l { text-align:left; }
  .s2 { color:var(--ok); } .s4 { color:var(--warn); } .s5 { color:var(--bad); }
  .pill { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; }
  .up { background:#12351d; color:var(--ok); } .down { background:#3d1515; color:var(--bad); }
  .ready { color:var(--ok); } .draining, .starting { color:var(--warn); }
  .bar { display:inline-block; width:80px; height:8px; background:var(--line); border-radius:4px; vertical-align:middle; margin-left:6px; }
  .bar i { display:block; height:100%; background:var(--acc); border-radius:4px; }
  footer { color:var(--dim); padding:16px 24px; font-size:12px; }
  #err { color:var(--bad); }
</style>
</head>
<body>
<header>
  <h1>Switchyard</h1>
  <span class="kv">state <b id="state" data-k="state">…</b></span>
  <span class="kv">uptime <b data-k="uptime">…</b></span>
  <span class="kv">req/s <b data-k="rps">…</b></span>
  <span class="kv">in flight <b data-k="in_flight">…</b></span>
  <span class="kv">connections <b data-k="connections">…</b></span>
  <span class="kv">threads <b data-k="threads">…</b></span>
  <span class="kv">memory <b data-k="rss">…</b></span>
  <span class="kv">pid <b data-k="pid">…</b></span>
</header>
<h2>Routes</h2>
<table id="routes"><thead><tr><th>route</th><th class="l">track</th><th>req/s</th><th>requests</th><th>1xx</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th>closed</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th></tr></thead><tbody></tbody></table>
<h2>Upstream servers</h2>
<table id="upstreams"><thead><tr><th>upstream</th><th class="l">server</th><th class="l">state</th><th>requests</th><th>errors</th><th>retries</th><th>p50 ms</th><th>p99 ms</th></tr></thead><tbody></tbody></table>
<h2>Job pool</h2>
<table id="pool"><thead><tr><th>threads</th><th>queued</th><th>running</th><th class="l">utilisation</th><th>done</th><th>failed</th><th>cancelled</th><th>rejected</th></tr></thead><tbody></tbody></table>
<footer>Live: refreshed every second from <code>?format=json</code>. Latencies are estimated from histogram buckets. <span id="err"></span></footer>
<script>
"use strict";
let prev = null;
const fmt = (n) => n >= 100 ? Math.round(n).toLocaleString("en") : (Math.round(n * 100) / 100).toString();
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = String(text); return e; };
function cell(tr, k, v, cls) { const td = el("td", cls, v); td.dataset.k = k; tr.appendChild(td); return td; }
function dur(s) { const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60); return (d ? d + "d " : "") + (h ? h + "h " : "") + m + "m " + (s % 60) + "s"; }
function render(s) {
  const dt = prev ? (s.time - prev.time) / 1000 : 0;
  const before = new Map(prev ? prev.routes.map((r) => [r.track + " " + r.route, r.requests]) : []);
  let total = 0;
  const body = document.querySelector("#routes tbody"); body.textContent = "";
  for (const r of s.routes) {
    const was = before.get(r.track + " " + r.route);
    const rps = dt > 0 && was !== undefined ? (r.requests - was) / dt : 0;
    total += rps;
    const tr = el("tr"); tr.dataset.route = r.route; tr.dataset.track = r.track;
    cell(tr, "route", r.route); cell(tr, "track", r.track, "l"); cell(tr, "rps", fmt(rps)); cell(tr, "requests", r.requests);
    cell(tr, "1xx", r.status["1xx"]); cell(tr, "2xx", r.status["2xx"], r.status["2xx"] ? "s2" : ""); cell(tr, "3xx", r.status["3xx"]);
    cell(tr, "4xx", r.status["4xx"], r.status["4xx"] ? "s4" : ""); cell(tr, "5xx", r.status["5xx"], r.status["5xx"] ? "s5" : "");
    cell(tr, "closed", r.status.none); cell(tr, "p50", fmt(r.p50_ms)); cell(tr, "p90", fmt(r.p90_ms)); cell(tr, "p99", fmt(r.p99_ms));
    body.appendChild(tr);
  }
  const ub = document.querySelector("#upstreams tbody"); ub.textContent = "";
  for (const u of s.upstreams) {
    const tr = el("tr"); tr.dataset.server = u.upstream + " " + u.server;
    cell(tr, "upstream", u.upstream); cell(tr, "server", u.server, "l");
    const st = cell(tr, "state", "", "l"); st.appendChild(el("span", "pill " + (u.up ? "up" : "down"), u.up ? "UP" : "DOWN"));
    cell(tr, "requests", u.requests); cell(tr, "errors", u.errors, u.errors ? "s5" : ""); cell(tr, "retries", u.retries);
    cell(tr, "p50", fmt(u.p50_ms)); cell(tr, "p99", fmt(u.p99_ms));
    ub.appendChild(tr);
  }
  const pb = document.querySelector("#pool tbody"); pb.textContent = "";
  const p = s.pool || { threads: 0, maxThreads: 0, queued: 0, running: 0, utilization: 0, completed: 0, failed: 0, cancelled: 0, rejected: 0 }, tr = el("tr");
  cell(tr, "threads", p.threads + " / " + p.maxThreads); cell(tr, "queued", p.queued); cell(tr, "running", p.running);
  const ut = cell(tr, "utilisation", Math.round(p.utilization * 100) + "%", "l"); const bar = el("span", "bar"); const fill = el("i"); fill.style.width = Math.round(p.utilization * 100) + "%"; bar.appendChild(fill); ut.appendChild(bar);
  cell(tr, "completed", p.completed); cell(tr, "failed", p.failed); cell(tr, "cancelled", p.cancelled); cell(tr, "rejected", p.rejected);
  pb.appendChild(tr);
  const set = (k, v) => { document.querySelector('[data-k="' + k + '"]').textContent = v; };
  set("state", s.state); document.getElementById("state").className = s.state;
  set("uptime", dur(s.uptime_s)); set("rps", fmt(total)); set("in_flight", s.in_flight);
  set("connections", s.connections === null ? "n/a" : s.connections); set("threads", s.threads); set("rss", Math.round(s.rss_bytes / 1048576) + " MiB"); set("pid", s.pid);
  document.body.dataset.updated = String(s.time);
  prev = s;
}
async function tick() {
  try {
    const r = await fetch("?format=json", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
    document.getElementById("err").textContent = "";
  } catch (e) {
    document.getElementById("err").textContent = "update failed: " + e.message;
  }
  setTimeout(tick, 1000);
}
tick();
</script>
</body>
</html>
`;
