/**
 * The job behind GET /fib/:n and the TCP line listener: the n-th Fibonacci number, n in 0..90.
 *
 * For n ≤ 45 it is computed by the naive doubly recursive definition on purpose: exponential work
 * (fib(32) ≈ 3.5 million calls, tens of ms; fib(45) ≈ 3.7 billion, many seconds) is the CPU load
 * the worker pool exists for. Above 45 that would take minutes, so it iterates in BigInt.
 * Results above 2^53 (n ≥ 79) are not exact as JS numbers (and not as JSON numbers either), so
 * they are returned as decimal strings.
 */
const MAX_SAFE = 2n ** 53n;

function slow(n: number): number {
  return n < 2 ? n : slow(n - 1) + slow(n - 2);
}

export default function fib(n: number): number | string {
  if (!Number.isInteger(n) || n < 0 || n > 90) throw new RangeError('n must be an integer in 0..90');
  if (n <= 45) return slow(n);
  let a = 0n;
  let b = 1n;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a > MAX_SAFE ? a.toString() : Number(a);
}
