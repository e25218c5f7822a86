import { spawnSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';

// DynamoDB Local (the AWS contract and handler tests) runs on Java 17. Without it those files are left out
// and the run says so; under CI (CI=true) a missing Java is a failure, never a silent skip.
const java = spawnSync('java', ['-version'], { stdio: 'ignore' }).status === 0;
if (!java) {
  const why = 'test/aws needs Java 17 for DynamoDB Local (Debian: apt-get install openjdk-17-jre-headless)';
  if (process.env.CI === 'true') throw new Error(`${why}; CI=true does not skip it`);
  // The config is read again in every worker: say it once.
  if (!process.env.REBOUND_SAID_NO_JAVA) console.warn(`contract: skipping ${why}`);
  process.env.REBOUND_SAID_NO_JAVA = '1';
}

// Three tiers. `unit` and `contract` need no root, no Slurm and no network (`npm run test:fast`);
// `contract` starts the AWS emulators from npm when Java is there. Only `e2e` starts the real Slurm.
export default defineConfig({
  test: {
    testTimeout: 20_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'contract',
          include: ['test/contract/**/*.test.ts', ...(java ? ['test/aws/**/*.test.ts'] : [])],
        },
      },
      {
        extends: true,
        test: { name: 'infra', include: ['test/infra/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          // The files run side by side (npm run test:e2e: four workers) and so do the scenarios inside them: each Rebound process gets the
          // hook events of its own workloads (the test cluster's hook router, scripts/slurm-env.sh), and the
          // lab node is declared with enough CPUs that their jobs do not queue behind each other.
          fileParallelism: true,
          maxConcurrency: 20,
        },
      },
      {
        extends: true,
        test: {
          // Scenarios that disturb the whole test cluster (a node set DOWN, a reconfigured controller):
          // run after the others (npm run test:e2e), one file at a time.
          name: 'e2e-phases',
          include: ['test/e2e-phases/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          fileParallelism: false,
        },
      },
    ],
    coverage: {
      provider: 'v8',
      include: ['core/**/*.ts', 'service/**/*.ts'],
      reporter: ['text-summary', 'text'],
      thresholds: { 'core/**/*.ts': { lines: 90 }, 'service/**/*.ts': { lines: 85 } },
    },
  },
});
