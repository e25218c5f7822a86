import { handle } from 'hono/aws-lambda';
import { awsDeps } from '../aws/deps.ts';
import { createApp } from './app.ts';

// The webhook and the status API in AWS: the same Hono app as `npm start`, behind a Function URL or API
// Gateway (payload v2). Built once per container.
const deps = awsDeps();
export const handler = handle(createApp({ ...deps, events: deps.events }));
