import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
import { readerDeps } from '../aws/api-deps.ts';
import { lambdaTelemetry } from '../aws/telemetry.ts';
import type { Reader } from '../service/tokens.ts';
import { mountMcp } from './mcp-server.ts';

// The MCP tools in AWS (functions/mcp-server.ts), behind their own Function URL: the SDK stays out of the
// webhook's bundle and cold start (bench:bundle), and this function may only read and queue requests.
const telemetry = lambdaTelemetry('rebound-mcp');
const app = new Hono<{ Variables: { reader: Reader } }>();
app.onError((err, c) => {
  console.error(`request failed: ${err.name}: ${err.message}`);
  return c.json({ error: 'internal error' }, 500);
});
mountMcp(app, { ...readerDeps(), now: () => new Date() });
const handled = handle(app);

/** As functions/api.ts: AWS's payload v2 made what Hono's adapter reads. */
export async function handler(event: APIGatewayProxyEventV2, context?: Context) {
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
}
