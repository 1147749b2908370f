import { afterEach } from 'vitest';

/**
 * Close-after-each-test registration for proxy tests: call once at module level, then wrap every
 * server or upstream the test opens with the returned `later(x)`; they close in reverse order.
 */
export function closeAfterEach(): <T extends { close(): Promise<void> }>(x: T) => T {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  return (x) => {
    cleanup.push(() => x.close());
    return x;
  };
}
