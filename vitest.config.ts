import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'renderer/**/*.test.tsx'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // Guards against a hang, not measures: the slowest tests take minutes on 2 cores beside another test
    // run on a busy machine (speed targets live in `npm run bench`).
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Tests write real files and run real processes; two cores, so keep parallelism modest.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
