import { MemoryQueue } from '../support/memory-queue.ts';
import { MemoryStore } from '../support/memory-store.ts';
import { queueContract } from './queue.contract.ts';
import { storeContract } from './store.contract.ts';

// The in-memory doubles the service tests use must behave like the real stores: the same suites.
storeContract('memory', async () => new MemoryStore());
queueContract('memory', async (maxReceives) => new MemoryQueue(maxReceives));
