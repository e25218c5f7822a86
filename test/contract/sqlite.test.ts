import { mkdtempSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
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

describe('SQLite durability', () => {
  it('keeps accepted messages and state across a restart (reopened database)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'rebound-db-')), 'rebound.db');
    const db = openDatabase(path);
    await new SqliteQueue(db, 'events').send([{ id: 'kept', body: { n: 1 } }]);
    await new SqliteStore(db).appendHistory([{ workload: 'w', at: 't', line: 'before restart' }]);
    db.close();
    const again = openDatabase(path);
    const [m] = await new SqliteQueue<{ n: number }>(again, 'events').receive(1, 30);
    expect(m?.body).toEqual({ n: 1 });
    expect((await new SqliteStore(again).listHistory('w')).map((h) => h.line)).toEqual(['before restart']);
  });
});
