import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** End-to-end tests drive a real Slurm: start the project's own single-node cluster (idempotent, ~2 s). */
export default function setup() {
  execFileSync(join(import.meta.dirname, '..', '..', 'scripts', 'slurm-env.sh'), ['start'], {
    stdio: 'inherit',
  });
}
