import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../local/sqlite.ts';
import { SqliteQueue } from '../../local/sqlite-queue.ts';
import { SqliteStore } from '../../local/sqlite-store.ts';
import { queueContract } from './queue.contract.ts';
import { storeContract } from './store.contract.ts';

const freshDb = () => openDatabase(join(mkdtempSync(join(tmpdir(), 'rebound-db-')), 'rebound.db'));

storeContract('SQLite', async () => new SqliteStore(freshDb()));
queueContract('SQLite', async (maxReceives) => new SqliteQueue(freshDb(), 'test', { maxReceives }));
