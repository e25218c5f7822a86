// Layering check (as domain-driven-hexagon's dependency-cruiser): core/ is pure, so it may import only
// zod and other core/ files; service/ (the application both shells run) knows no adapter or shell; the
// AWS adapters and the local runtime never import each other; functions/ and relay/ never import each
// other. Exits 1 naming each breach.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const RULES: Record<string, (spec: string) => boolean> = {
  core: (s) => s === 'zod' || s.startsWith('./'),
  service: (s) => !['/local/', '/aws/', '/relay/', '/functions/'].some((l) => s.includes(l)),
  aws: (s) => !['/local/', '/relay/', '/functions/'].some((l) => s.includes(l)),
  local: (s) => !s.includes('/aws/'),
  functions: (s) => !s.includes('/relay/'),
  relay: (s) => !s.includes('/functions/') && !s.includes('/aws/'),
};

function files(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(files(path));
    else if (path.endsWith('.ts')) out.push(path);
  }
  return out;
}

const breaches: string[] = [];
for (const [layer, allowed] of Object.entries(RULES)) {
  let all: string[];
  try {
    all = files(join(ROOT, layer));
  } catch {
    continue;
  }
  for (const file of all) {
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      if (!allowed(spec)) breaches.push(`${relative(ROOT, file)} imports "${spec}"`);
    }
  }
}
if (breaches.length) {
  console.error(`layering check failed:\n  ${breaches.join('\n  ')}`);
  process.exit(1);
}
console.log(
  'layering check: core/ pure; service/ knows no shell or adapter; aws/ and local/ apart; functions/ and relay/ apart',
);
