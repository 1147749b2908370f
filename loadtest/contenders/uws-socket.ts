/**
 * Absolute floor for the proxy scenarios: uWebSockets.js in front and a hand-rolled HTTP/1.1
 * keep-alive client on `net.Socket` behind it — up to 64 connections, one request at a time each,
 * responses framed by Content-Length only. No checks, no chunked decoding, no timeouts: a floor to
 * measure against, not a product (it would be unsafe against a real upstream).
 * Usage: node dist/loadtest/contenders/uws-socket.js --port N --upstream http://127.0.0.1:M
 */

import uWS from 'uWebSockets.js';
import net from 'node:net';
import { childArgs, exitWithParent } from '../lib/child.js';

const { port, values } = childArgs();
exitWithParent();
const upstream = values.upstream;
if (!upstream) {
  process.stderr.write('uws-socket: --upstream URL is required\n');
  process.exit(2);
}
const target = new URL(upstream);
const MAX = 64;
const HEAD_END = Buffer.from('\r\n\r\n');

interface Job {
  res: uWS.HttpResponse;
  path: string;
  aborted: boolean;
}

/** One upstream connection: parses one response at a time (status line, headers, fixed body). */
class Conn {
  readonly sock: net.Socket;
  job: Job | null = null;
  buf: Buffer | null = null;
  status = '';
  contentType = '';
  need = -1;
  constructor() {
    this.sock = net.connect(Number(target.port), target.hostname);
    this.sock.setNoDelay(true);
    this.sock.on('data', (d: Buffer) => this.onData(d));
    this.sock.on('error', () => {});
    this.sock.on('close', () => this.onClose());
  }
  send(job: Job): void {
    this.job = job;
    this.sock.write(`GET ${job.path} HTTP/1.1\r\nhost: ${target.host}\r\n\r\n`, 'latin1');
  }
  onData(d: Buffer): void {
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    if (this.need < 0) {
      const end = this.buf.indexOf(HEAD_END);
      if (end < 0) return;
      const head = this.buf.toString('latin1', 0, end);
      this.status = head.slice(9, head.indexOf('\r\n'));
      this.need = 0;
      this.contentType = '';
      for (const line of head.split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        if (name === 'content-length') this.need = Number(line.slice(colon + 1));
        else if (name === 'content-type') this.contentType = line.slice(colon + 1).trim();
      }
      this.buf = this.buf.subarray(end + 4);
    }
    if (this.buf.length < this.need) return;
    const body = this.buf.subarray(0, this.need);
    this.buf = null;
    this.need = -1;
    const job = this.job!;
    this.job = null;
    if (!job.aborted) {
      job.res.cork(() => {
        job.res.writeStatus(this.status);
        if (this.contentType) job.res.writeHeader('content-type', this.contentType);
        job.res.end(body);
      });
    }
    next(this);
  }
  onClose(): void {
    const job = this.job;
    this.job = null;
    all.delete(this);
    // the origin (uWS) closes a connection idle for 10 s: forget it
    const at = idle.indexOf(this);
    if (at >= 0) idle.splice(at, 1);
    if (job && !job.aborted) job.res.cork(() => job.res.writeStatus('502 Bad Gateway').end());
  }
}

const all = new Set<Conn>();
const idle: Conn[] = [];
const queue: Job[] = [];

function next(c: Conn): void {
  const job = queue.shift();
  if (job) c.send(job);
  else idle.push(c);
}

function submit(job: Job): void {
  const c = idle.pop();
  if (c) c.send(job);
  else if (all.size < MAX) {
    const n = new Conn();
    all.add(n);
    n.send(job);
  } else queue.push(job);
}

uWS
  .App()
  .get('/*', (res, req) => {
    const job: Job = { res, path: req.getUrl(), aborted: false };
    res.onAborted(() => {
      job.aborted = true;
    });
    submit(job);
  })
  .listen('127.0.0.1', port, (token) => {
    if (!token) {
      process.stderr.write(`uws-socket: cannot listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
  });
