import './pulumi-globals.ts';

export { commandQueues, eventQueues } from '../../infra/queues.ts';
export { stateTable } from '../../infra/table.ts';
