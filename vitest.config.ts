import { defineConfig } from "vitest/config"

/**
 * Two tiers. `unit` runs in this process: fakes served over loopback inside the test process, the CLI
 * through the same `program` the binary runs, waits in virtual time. `e2e` starts real processes: the
 * binary as a user runs it, memory caps, benchmarks. `readme`, part of the e2e tier, runs the README
 * on a fresh clone (an install, a build, a benchmark): it runs on its own, after the others, so its
 * load cannot starve their timing. `npm test` runs all of them.
 */
export default defineConfig({
  test: {
    testTimeout: 20_000,
    // Vitest's default is one worker per core less one, so one on a 2-core machine. Most tests here
    // wait on loopback sockets, not the CPU, so two workers overlap well.
    maxWorkers: 2,
    projects: [
      { test: { name: "unit", include: ["test/**/*.test.ts"], exclude: ["test/e2e/**"], testTimeout: 20_000 } },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          exclude: ["test/e2e/readme.test.ts"],
          testTimeout: 120_000,
        },
      },
      { test: { name: "readme", include: ["test/e2e/readme.test.ts"], testTimeout: 120_000 } },
    ],
  },
})
