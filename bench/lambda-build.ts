import { build } from 'esbuild';

/**
 * Bundles an entry as SST bundles a Lambda function (esbuild, ESM, minified, Node 22), so that what the
 * benchmarks load and time is what AWS runs.
 */
export async function lambdaBundle(entry: string, outfile: string, external: string[] = []): Promise<void> {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    // ESM builds of the AWS SDK tree-shake; esbuild's node default would take the CommonJS ones.
    mainFields: ['module', 'main'],
    external,
    outfile,
    // ESM bundles of CommonJS dependencies need a require.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
}
