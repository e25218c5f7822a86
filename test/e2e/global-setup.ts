import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * End-to-end tests drive a real Slurm: start the project's own single-node cluster (idempotent, ~2 s), and
 * have Debian's Chromium for the status page's test (installed once).
 */
export default function setup() {
  for (const script of ['slurm-env.sh', 'chromium.sh'])
    execFileSync(
      join(import.meta.dirname, '..', '..', 'scripts', script),
      script === 'slurm-env.sh' ? ['start'] : [],
      {
        stdio: 'inherit',
      },
    );
}
