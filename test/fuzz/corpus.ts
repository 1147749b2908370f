/**
 * The fuzzer's seed corpus: valid requests for every track of the fuzz server's config
 * (fuzz.test.ts) — respond, redirect, handlers (body reading, streaming, odd statuses, response
 * headers, a route timeout), the proxy (GET, bodies with Content-Length and chunked, many
 * headers) — with the framings and header shapes clients really send, and a pipelined pair.
 */

const CRLF = '\r\n';
const req = (head: string[], body = ''): string => `${head.join(CRLF)}${CRLF}${CRLF}${body}`;
const chunked = (...parts: string[]): string =>
  `${parts.map((p) => `${p.length.toString(16)}${CRLF}${p}${CRLF}`).join('')}0${CRLF}${CRLF}`;

const json = '{"name":"switchyard","n":[1,2,3],"ok":true}';

export const CORPUS: readonly string[] = [
  req(['GET /healthz HTTP/1.1', 'Host: fuzz']),
  req(['HEAD /healthz HTTP/1.1', 'Host: fuzz', 'Accept: */*']),
  req(['GET /old?x=1&y=%20z HTTP/1.1', 'Host: fuzz.example.com:8080', 'User-Agent: curl/8.5.0']),
  req([
    'GET /users/42 HTTP/1.1',
    'Host: fuzz',
    'Accept: application/json',
    'Accept-Language: en-GB,en;q=0.9',
  ]),
  req(['OPTIONS /users/42 HTTP/1.1', 'Host: fuzz']),
  req(['GET /headers?case=framing HTTP/1.1', 'Host: fuzz', 'X-Request-Id: abc-123']),
  req(['GET /status?status=204 HTTP/1.1', 'Host: fuzz']),
  req(['GET /status?status=304 HTTP/1.1', 'Host: fuzz', 'If-None-Match: "v1"']),
  req(['GET /stream?bytes=5000&chunk=1000 HTTP/1.1', 'Host: fuzz', 'Accept-Encoding: gzip, br']),
  req(['GET /stream?bytes=3000&known=1 HTTP/1.1', 'Host: fuzz', 'Connection: keep-alive']),
  req(['GET /slow?ms=20 HTTP/1.1', 'Host: fuzz', 'Cookie: a=1; b=2', 'Cookie: c=3']),
  req(
    ['POST /read HTTP/1.1', 'Host: fuzz', 'Content-Type: application/json', `Content-Length: ${json.length}`],
    json,
  ),
  req(
    ['POST /read HTTP/1.1', 'Host: fuzz', 'Content-Type: text/plain', 'Transfer-Encoding: chunked'],
    chunked('hello ', 'chunked ', 'world'),
  ),
  req(['GET /api/hello?q=1 HTTP/1.1', 'Host: fuzz', 'X-Forwarded-For: 10.0.0.1', 'Accept: text/html']),
  req([
    'GET /api/many HTTP/1.1',
    'Host: fuzz',
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0',
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    'Accept-Language: en-US,en;q=0.5',
    'Accept-Encoding: gzip, deflate, br',
    'Referer: https://example.com/a/b?c=d',
    'Cookie: session=0123456789abcdef; theme=dark',
    'Cache-Control: no-cache',
    'If-Modified-Since: Sat, 21 Nov 2026 12:00:00 GMT',
    'X-Custom: a, b , c',
    'Connection: keep-alive, x-custom',
  ]),
  req(
    [
      'POST /api/echo HTTP/1.1',
      'Host: fuzz',
      'Content-Type: application/json',
      `Content-Length: ${json.length}`,
    ],
    json,
  ),
  req(
    [
      'PUT /api/echo HTTP/1.1',
      'Host: fuzz',
      'Transfer-Encoding: chunked',
      'Content-Type: application/octet-stream',
    ],
    chunked('0123456789', 'abcdefghijklmnopqrstuvwxyz'),
  ),
  req(['DELETE /api/item/1 HTTP/1.1', 'Host: fuzz', 'Content-Length: 0']),
  req(['GET /api/../healthz HTTP/1.1', 'Host: fuzz']),
  req(['GET /api/a%2Fb/%7Euser HTTP/1.1', 'Host: fuzz', 'Connection: close']),
  req(['PATCH /api/x HTTP/1.1', 'Host: fuzz', 'Content-Length: 5', 'Expect: 100-continue'], 'patch'),
  // pipelined: two requests in one segment
  req(['GET /healthz HTTP/1.1', 'Host: fuzz']) + req(['GET /old HTTP/1.1', 'Host: fuzz']),
];
