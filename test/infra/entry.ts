import './pulumi-globals.ts';
export { stateTable } from '../../infra/table.ts';
export { commandQueues, eventQueues } from '../../infra/queues.ts';
