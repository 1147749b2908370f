import { describe, expect, it } from 'vitest';
import { normalizePath } from '../src/router/normalize.js';
import { Router } from '../src/router/router.js';

describe('normalizePath', () => {
  it.each([
    ['/', '/'],
    ['/hello', '/hello'],
    ['/a/b/', '/a/b/'],
    ['/a//b', '/a/b'],
    ['/a/./b', '/a/b'],
    ['/a/b/..', '/a/'],
    ['/public/../admin', '/admin'],
    ['/public/%2e%2e/admin', '/admin'],
    ['/public/%2E%2e/admin', '/admin'],
    ['/public/.%2e/admin', '/admin'],
    ['/a/%2e/b', '/a/b'],
    ['/a%2fb', '/a%2Fb'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/x/%2e%2e%2fadmin', '/x/..%2Fadmin'],
  ])('%s → %s', (raw, want) => {
    expect(normalizePath(raw)).toBe(want);
  });

  it.each([
    ['climbing above the root', '/../etc/passwd'],
    ['encoded climb above the root', '/%2e%2e/x'],
    ['backslash', '/a\\b'],
    ['encoded backslash', '/a%5cb'],
    ['NUL', '/a\u0000b'],
    ['encoded NUL', '/a%00b'],
    ['encoded CR', '/a%0d%0ab'],
    ['DEL', '/a\u007fb'],
    ['space', '/a b'],
    ['fragment', '/a#b'],
    ['non-ASCII byte', '/caf\u00e9'],
    ['bad escape', '/a%zz'],
    ['truncated escape', '/a%2'],
    ['relative', 'a/b'],
    ['empty', ''],
    ['asterisk', '*'],
  ])('refuses %s', (_what, raw) => {
    expect(normalizePath(raw)).toBeNull();
  });

  it('returns the same string (no copy) for a clean path', () => {
    const p = '/api/v1/users/42';
    expect(normalizePath(p)).toBe(p);
  });
});

describe('Router', () => {
  const router = new Router([
    { path: '/hello', data: 'hello' },
    { path: '/users/:id', methods: ['GET'], data: 'user-get' },
    { path: '/users/:id', methods: ['PUT', 'DELETE'], data: 'user-write' },
    { path: '/files/:dir/*', data: 'files' },
    { path: '/api/*', data: 'api' },
    { path: '/only-post', methods: ['POST'], data: 'post' },
    { path: '/hosted', host: 'example.com', data: 'hosted' },
    { path: '/hosted', host: '*.example.org', data: 'wild' },
    { path: '/hosted', data: 'hosted-any' },
  ]);

  it('matches exact paths', () => {
    expect(router.match('GET', 'x', '/hello')).toMatchObject({ kind: 'found', data: 'hello' });
    expect(router.match('GET', 'x', '/hello/')).toEqual({ kind: 'none' });
  });

  it('extracts :params, decoded', () => {
    expect(router.match('GET', 'x', '/users/42')).toEqual({
      kind: 'found',
      data: 'user-get',
      params: { id: '42' },
    });
    expect(router.match('GET', 'x', '/users/a%20b')).toMatchObject({ params: { id: 'a b' } });
    expect(router.match('GET', 'x', '/users/')).toEqual({ kind: 'none' });
    expect(router.match('GET', 'x', '/users/1/2')).toEqual({ kind: 'none' });
    // the literal part must be whole segments: neither a longer name nor the bare prefix matches
    expect(router.match('GET', 'x', '/usersx/1')).toEqual({ kind: 'none' });
    expect(router.match('GET', 'x', '/users')).toEqual({ kind: 'none' });
    expect(router.match('GET', 'x', '/files/a')).toMatchObject({ params: { dir: 'a', '*': '' } });
    expect(router.match('GET', 'x', '/filesa/b')).toEqual({ kind: 'none' });
  });

  it('matches a trailing * (also the bare prefix)', () => {
    expect(router.match('GET', 'x', '/api/v1/x')).toEqual({
      kind: 'found',
      data: 'api',
      params: { '*': 'v1/x' },
    });
    expect(router.match('GET', 'x', '/api')).toEqual({ kind: 'found', data: 'api', params: { '*': '' } });
    expect(router.match('GET', 'x', '/apix')).toEqual({ kind: 'none' });
    expect(router.match('GET', 'x', '/files/a/b/c')).toEqual({
      kind: 'found',
      data: 'files',
      params: { dir: 'a', '*': 'b/c' },
    });
  });

  it('takes the first match in file order, by method', () => {
    expect(router.match('PUT', 'x', '/users/1')).toMatchObject({ data: 'user-write' });
    expect(router.match('HEAD', 'x', '/users/1')).toMatchObject({ data: 'user-get' });
  });

  it('answers 405 with the allowed methods of every route on that path', () => {
    expect(router.match('POST', 'x', '/users/1')).toEqual({
      kind: 'method',
      allow: 'DELETE, GET, HEAD, PUT',
    });
    expect(router.match('GET', 'x', '/only-post')).toEqual({ kind: 'method', allow: 'POST' });
  });

  it('matches host, ignoring the port and case', () => {
    expect(router.match('GET', 'Example.COM:8080', '/hosted')).toMatchObject({ data: 'hosted' });
    expect(router.match('GET', 'a.example.org', '/hosted')).toMatchObject({ data: 'wild' });
    expect(router.match('GET', 'example.org', '/hosted')).toMatchObject({ data: 'hosted-any' });
    expect(router.match('GET', '[::1]:80', '/hosted')).toMatchObject({ data: 'hosted-any' });
  });
});
