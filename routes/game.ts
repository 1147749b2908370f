/**
 * The game rooms (WebSocket, `/game/ws?name=NAME&room=ROOM`, room `lobby` by default): players
 * move on a 32×24 board; the page at `/game` (routes/game-page.ts) draws it. Protocol, JSON text
 * both ways:
 *
 *   server → client  {"type":"hello","id","shard","room","w","h"}   once, on open
 *                    {"type":"state","shard","tick","players":[{id,name,x,y,color}]}   20 times a second
 *   client → server  {"dx":-1|0|1,"dy":-1|0|1}              a move; the last one per tick is applied
 *
 * A room's state lives in this thread's memory; each thread ticks its own players and publishes
 * its part of each room under its `shard` id on the topic `game:ROOM`, which reaches every thread's subscribers
 * (pub/sub is relayed across acceptor threads), so players on different threads see each other:
 * the page draws the union of the shards it has heard from in the last second.
 *
 * Input is validated: anything but a JSON move (binary, malformed, out of range, extra keys)
 * closes that connection with 1003/1008; the room goes on. The route's `max_message` (conf)
 * closes oversized messages with 1009 before they get here.
 */
import type { Context, Reply, WsConnection } from '../src/api.js';

const W = 32;
const H = 24;
const TICK_MS = 50; // 20 Hz
const NAME = /^[A-Za-z0-9 _-]{1,16}$/;
const COLORS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324'];

interface Player {
  id: string;
  name: string;
  x: number;
  y: number;
  color: string;
  dx: number;
  dy: number;
}

/** this thread's part of each room */
const shard = Math.random().toString(36).slice(2, 10);
const rooms = new Map<string, Map<WsConnection, Player>>();
let timer: NodeJS.Timeout | undefined;
let tick = 0;
let next = 0;

function clamp(v: number, max: number): number {
  return v < 0 ? 0 : v >= max ? max - 1 : v;
}

function state(players: Map<WsConnection, Player>): string {
  const list = [...players.values()].map(({ id, name, x, y, color }) => ({ id, name, x, y, color }));
  return JSON.stringify({ type: 'state', shard, tick, players: list });
}

/** Apply the moves of this tick and publish this thread's players of each room (to every thread). */
function step(): void {
  tick++;
  for (const [room, players] of rooms) {
    for (const p of players.values()) {
      p.x = clamp(p.x + p.dx, W);
      p.y = clamp(p.y + p.dy, H);
      p.dx = 0;
      p.dy = 0;
    }
    const any = players.keys().next().value;
    if (any !== undefined) any.publish(`game:${room}`, state(players));
  }
}

interface Seat {
  name: string;
  room: string;
}

/** A move message: exactly {"dx","dy"} with each in -1..1. */
function parseMove(data: string): { dx: number; dy: number } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  const { dx, dy } = v as { dx?: unknown; dy?: unknown };
  if (keys.length !== 2 || !Number.isInteger(dx) || !Number.isInteger(dy)) return undefined;
  if (Math.abs(dx as number) > 1 || Math.abs(dy as number) > 1) return undefined;
  return { dx: dx as number, dy: dy as number };
}

/** Before the handshake: a player needs a sane name, and a room a sane name. */
export function upgrade(ctx: Context): Reply | { data: Seat } {
  const name = ctx.query.get('name') ?? 'player';
  const room = ctx.query.get('room') ?? 'lobby';
  for (const [key, v] of [
    ['name', name],
    ['room', room],
  ])
    if (!NAME.test(v!))
      return {
        status: 400,
        headers: { 'content-type': 'text/plain' },
        body: `${key}: 1-16 of A-Z a-z 0-9 space _ -\n`,
      };
  return { data: { name, room } };
}

export function open(ws: WsConnection): void {
  const id = `${shard}-${next++}`;
  const { name, room } = ws.data as Seat;
  const p: Player = {
    id,
    name,
    x: Math.floor(Math.random() * W),
    y: Math.floor(Math.random() * H),
    color: COLORS[next % COLORS.length]!,
    dx: 0,
    dy: 0,
  };
  let players = rooms.get(room);
  if (players === undefined) rooms.set(room, (players = new Map()));
  players.set(ws, p);
  ws.subscribe(`game:${room}`);
  ws.send(JSON.stringify({ type: 'hello', id, shard, room, w: W, h: H }));
  if (timer === undefined) timer = setInterval(step, TICK_MS);
}

export function message(ws: WsConnection, data: string | Buffer, binary: boolean): void {
  if (binary) return ws.close(1003, 'text messages only');
  const move = parseMove(data as string);
  const p = rooms.get((ws.data as Seat).room)?.get(ws);
  if (move === undefined || p === undefined) return ws.close(1008, 'expected {"dx":-1..1,"dy":-1..1}');
  p.dx = move.dx;
  p.dy = move.dy;
}

export function close(ws: WsConnection): void {
  const { room } = ws.data as Seat;
  const players = rooms.get(room);
  if (players === undefined || !players.delete(ws)) return;
  if (players.size === 0) {
    rooms.delete(room);
    ws.publish(`game:${room}`, state(players)); // an empty shard: the others drop its players at once
  }
  if (rooms.size === 0 && timer !== undefined) {
    clearInterval(timer);
    timer = undefined;
  }
}
