import { Hono } from 'hono';
import { readerDeps } from '../aws/api-deps.ts';
import { lambdaTelemetry } from '../aws/telemetry.ts';
import type { Reader } from '../service/tokens.ts';
import { lambdaHttp } from './lambda-http.ts';
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
export const handler = lambdaHttp(app, telemetry);
