import { apiDeps } from '../aws/api-deps.ts';
import { lambdaTelemetry } from '../aws/telemetry.ts';
import { createApp } from './app.ts';
import { lambdaHttp } from './lambda-http.ts';

// The webhook, the status API and the status page in AWS: the same Hono app as `npm start`, behind a
// Function URL or API Gateway (payload v2). Built once per container.
const telemetry = lambdaTelemetry('rebound-api');
export const handler = lambdaHttp(
  createApp({ ...apiDeps(), telemetry, log: (line) => telemetry.log('warn', line) }),
  telemetry,
);
