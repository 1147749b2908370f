/**
 * GET /game: the game room's page (routes/game.ts). A canvas draws every player the page has
 * heard of; arrow keys (or WASD) move. `?name=` names the player, `?room=` picks a room (the
 * lobby by default); `?ws=/path` connects the WebSocket to another path on this server (a proxy
 * route, say), only a plain path is taken.
 * `window.game` exposes the state for tests and the console.
 */
import { type Context, html, type Reply } from '../src/api.js';

const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Switchyard game room</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1rem; background: #fafafa; }
  canvas { border: 1px solid #999; background: #fff; image-rendering: pixelated; }
</style>
<h1>Game room</h1>
<p id="status">connecting…</p>
<canvas id="board" width="640" height="480"></canvas>
<p>Arrow keys or WASD to move. Open a second tab to play against yourself.</p>
<script>
"use strict";
const q = new URLSearchParams(location.search);
const wsPath = /^\\/[A-Za-z0-9_\\/-]*$/.test(q.get("ws") || "") ? q.get("ws") : "/game/ws";
const name = q.get("name") || "player";
const room = q.get("room") || "lobby";
const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + wsPath + "?name=" + encodeURIComponent(name) + "&room=" + encodeURIComponent(room);
const ws = new WebSocket(url);
const shards = new Map();
let me = "", w = 32, h = 24, closed = "";
const status = document.getElementById("status");
ws.onopen = () => { status.textContent = "connected as " + name + " in " + room; };
ws.onclose = (e) => { closed = e.code + " " + e.reason; status.textContent = "closed: " + closed; };
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.type === "hello") { me = m.id; w = m.w; h = m.h; }
  else if (m.type === "state") shards.set(m.shard, { at: performance.now(), players: m.players });
};
function players() {
  const now = performance.now(), out = [];
  for (const [k, s] of shards) { if (now - s.at > 1000) shards.delete(k); else out.push(...s.players); }
  return out;
}
function move(dx, dy) { if (ws.readyState === 1) ws.send(JSON.stringify({ dx, dy })); }
const keys = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1], a: [-1, 0], d: [1, 0], w: [0, -1], s: [0, 1] };
addEventListener("keydown", (e) => { const k = keys[e.key]; if (k) { e.preventDefault(); move(k[0], k[1]); } });
const cv = document.getElementById("board"), g = cv.getContext("2d");
function draw() {
  const cw = cv.width / w, ch = cv.height / h;
  g.clearRect(0, 0, cv.width, cv.height);
  g.strokeStyle = "#eee";
  for (let x = 0; x <= w; x++) { g.beginPath(); g.moveTo(x * cw, 0); g.lineTo(x * cw, cv.height); g.stroke(); }
  for (let y = 0; y <= h; y++) { g.beginPath(); g.moveTo(0, y * ch); g.lineTo(cv.width, y * ch); g.stroke(); }
  for (const p of players()) {
    g.fillStyle = p.color; g.fillRect(p.x * cw + 2, p.y * ch + 2, cw - 4, ch - 4);
    if (p.id === me) { g.strokeStyle = "#000"; g.lineWidth = 2; g.strokeRect(p.x * cw + 1, p.y * ch + 1, cw - 2, ch - 2); g.lineWidth = 1; }
    g.fillStyle = "#333"; g.fillText(p.name, p.x * cw, p.y * ch - 2);
  }
  requestAnimationFrame(draw);
}
requestAnimationFrame(draw);
window.game = { get me() { return me; }, get closed() { return closed; }, get open() { return ws.readyState === 1; }, players, move };
</script>
</html>
`;

const REPLY = html(PAGE);

export default function gamePage(_ctx: Context): Reply {
  return REPLY;
}
