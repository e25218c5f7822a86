import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
import type { LambdaTelemetry } from '../aws/telemetry.ts';

// A Hono app as a Lambda function behind a Function URL (payload v2): the API's and the MCP tools'.

/**
 * AWS's payload v2 as @types/aws-lambda types it is not Hono's `LambdaEvent`: no body is `undefined`
 * there and `null` here, and Hono wants authentication/authorizer fields a Function URL request does not
 * carry. Neither is read by the apps (they authenticate by signature or token).
 */
// biome-ignore lint/suspicious/noExplicitAny: Hono's app type varies by its variables; any app goes
export function lambdaHttp(app: Hono<any>, telemetry: LambdaTelemetry) {
  const handled = handle(app);
  return async function handler(event: APIGatewayProxyEventV2, context?: Context) {
    telemetry.begin(context);
    try {
      return await handled({
        ...event,
        body: event.body ?? null,
        requestContext: { ...event.requestContext, authentication: null, authorizer: {} },
      });
    } finally {
      telemetry.flush();
    }
  };
}
