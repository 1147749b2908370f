import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests start real servers and worker threads on a 2-core machine: keep parallelism modest.
    maxWorkers: 2,
    pool: 'forks',
  },
});
