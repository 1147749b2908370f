import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';
import { asSwitchyardError, catalogue, errorReply, SwitchyardError } from '../src/errors.js';

describe('error catalogue', () => {
  it('README documents every code with its status and reason, and no other', () => {
    const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `(SY_ERR_[A-Z_]+)` \| (\d+) \| (.+) \|$/gm)].map((m) => [
      m[1],
      Number(m[2]),
      m[3],
    ]);
    expect(rows).toEqual(Object.entries(catalogue).map(([code, e]) => [code, e.status, e.reason]));
  });

  it('codes are SY_ERR_*, statuses are 4xx/5xx', () => {
    for (const [code, e] of Object.entries(catalogue)) {
      expect(code).toMatch(/^SY_ERR_[A-Z_]+$/);
      expect(e.status).toBeGreaterThanOrEqual(400);
      expect(e.status).toBeLessThan(600);
    }
  });

  it('maps foreign errors: ours by shape, others to SY_ERR_HANDLER', () => {
    const timeout = Object.assign(new Error('timed out'), { code: 'SY_ERR_TIMEOUT' });
    expect(asSwitchyardError(timeout)).toMatchObject({ code: 'SY_ERR_TIMEOUT', status: 504 });
    const other = Object.assign(new Error('boom'), { code: 'ECONNRESET' });
    expect(asSwitchyardError(other)).toMatchObject({
      code: 'SY_ERR_HANDLER',
      status: 500,
      reason: 'internal server error',
    });
    // the runtime's Cancelled carries a `reason` that must never become the public reason
    const cancelled = Object.assign(new Error('cancelled'), {
      code: 'SY_ERR_CANCELLED',
      reason: 'lost the race',
    });
    expect(asSwitchyardError(cancelled)).toMatchObject({
      code: 'SY_ERR_CANCELLED',
      reason: 'cancelled',
      status: 499,
    });
    const mine = new SwitchyardError('SY_ERR_BAD_REQUEST', 'x', { status: 422, reason: 'nope' });
    expect(asSwitchyardError({ ...mine, message: 'x', code: mine.code })).toMatchObject({
      status: 422,
      reason: 'nope',
    });
  });

  it('error replies carry the reason and code, never a stack', () => {
    const err = new SwitchyardError('SY_ERR_HANDLER', 'secret detail');
    expect(errorReply(err, false).body).toBe('internal server error (SY_ERR_HANDLER)\n');
    expect(JSON.parse(errorReply(err, true).body as string)).toEqual({
      error: 'internal server error',
      code: 'SY_ERR_HANDLER',
      status: 500,
    });
  });
});
