import type { ScheduledEvent } from 'aws-lambda';
import { serviceDeps } from '../aws/deps.ts';
import { runAutoSchedule } from '../service/auto-schedule.ts';

const deps = serviceDeps();

/** The cron rule's target: auto-schedule for every Torc workflow (DynamoDB's TTL does the housekeeping). */
export async function handler(_event: ScheduledEvent): Promise<{ scheduled: string[] }> {
  return { scheduled: await runAutoSchedule(deps) };
}
