import { existsSync, readFileSync } from 'node:fs';
import type { StateStore } from '../core/ports.ts';
import { writeFileAtomic } from '../relay/state-file.ts';
import { authenticate, mintToken } from '../service/tokens.ts';

/**
 * The token of whoever runs `rebound start` — the one user in user mode, the administrator in site mode —
 * kept in the data folder (mode 0600) for the CLI: it sees every workload of this service. Made on the
 * first start, and again when the one in the file no longer proves anything (a new database).
 */
export async function ensureLocalToken(
  store: StateStore,
  file: string,
  who: { user: string; uid: number },
): Promise<void> {
  const current = existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
  if (current && (await authenticate(store, current))?.admin) return;
  const token = await mintToken(store, { ...who, admin: true }, new Date());
  writeFileAtomic(file, `${token}\n`, 0o600);
}
