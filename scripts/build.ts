// npm run build (and `npm pack`, through prepack): the `rebound` program as one ES module, dist/rebound.mjs.
// Everything pure JavaScript is bundled in; better-sqlite3 stays a dependency (its native binding is built
// or loaded where the package is installed). The hooks ship beside it (package.json "files").
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '..');
rmSync(join(ROOT, 'dist'), { recursive: true, force: true });
const result = await build({
  entryPoints: [join(ROOT, 'cli', 'main.ts')],
  outfile: join(ROOT, 'dist', 'rebound.mjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // ESM builds of the AWS SDK (its CommonJS ones would pull in more).
  mainFields: ['module', 'main'],
  external: ['better-sqlite3'],
  // Bundled CommonJS dependencies call require.
  banner: {
    js: "import { createRequire as __rebound_cr } from 'node:module'; const require = __rebound_cr(import.meta.url);",
  },
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`built dist/rebound.mjs (${(bytes / 1024).toFixed(0)} KB)`);
