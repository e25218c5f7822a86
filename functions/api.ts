import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { handle } from 'hono/aws-lambda';
import { apiDeps } from '../aws/api-deps.ts';
import { lambdaTelemetry } from '../aws/telemetry.ts';
import { createApp } from './app.ts';

// The webhook and the status API in AWS: the same Hono app as `npm start`, behind a Function URL or API
// Gateway (payload v2). Built once per container.
const telemetry = lambdaTelemetry('rebound-api');
const app = handle(createApp({ ...apiDeps(), telemetry, log: (line) => telemetry.log('warn', line) }));

/**
 * AWS's payload v2 as @types/aws-lambda types it is not Hono's `LambdaEvent`: no body is
 * `undefined` there and `null` here, and Hono wants authentication/authorizer fields a Function URL
 * request does not carry. Neither is read by the app (it authenticates by signature).
 */
export async function handler(event: APIGatewayProxyEventV2, context?: Context) {
  telemetry.begin(context);
  try {
    return await app({
      ...event,
      body: event.body ?? null,
      requestContext: { ...event.requestContext, authentication: null, authorizer: {} },
    });
  } finally {
    telemetry.flush();
  }
}
