#!/usr/bin/env node
// The `rebound` command. In a clone it runs the TypeScript sources through tsx's loader; an installed
// package has no sources, only the bundle that `npm pack` built (scripts/build.ts).
import { existsSync } from 'node:fs';

if (existsSync(new URL('../cli/main.ts', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
} else {
  await import('../dist/rebound.mjs');
}
