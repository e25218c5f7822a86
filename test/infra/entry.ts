import './pulumi-globals.ts';

export { alarms, notificationTopic } from '../../infra/alarms.ts';
export { commandQueues, eventQueues, workerTrigger } from '../../infra/queues.ts';
export { stateTable } from '../../infra/table.ts';
