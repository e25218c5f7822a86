import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { serviceAddress } from '../local/settings.ts';
import { readerToken } from './api.ts';

// `rebound mcp`: a local assistant's MCP over stdio, bridged message by message to the service's own MCP
// endpoint (POST /v1/mcp, functions/mcp.ts) with the person's token — one set of tools, wherever the
// service runs. Nothing is written to standard output but MCP messages; what goes wrong goes to stderr.

export async function bridgeStdio(): Promise<void> {
  const url = new URL('/v1/mcp', serviceAddress().url);
  const http = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { authorization: `Bearer ${readerToken()}` } },
  });
  const stdio = new StdioServerTransport();
  // A request the service could not answer gets a JSON-RPC error, so the assistant is not left waiting.
  const failed = (message: JSONRPCMessage, error: unknown) => {
    console.error(`rebound mcp: ${(error as Error).message}`);
    if ('id' in message && 'method' in message)
      void stdio.send({
        jsonrpc: '2.0',
        id: message.id,
        error: { code: -32603, message: `Rebound at ${url.origin}: ${(error as Error).message}` },
      });
  };
  stdio.onmessage = (message) => void http.send(message).catch((error) => failed(message, error));
  http.onmessage = (message) => void stdio.send(message);
  http.onerror = (error) => console.error(`rebound mcp: ${error.message}`);
  const closed = new Promise<void>((resolve) => {
    stdio.onclose = resolve;
  });
  await http.start();
  await stdio.start();
  await closed;
  await http.close();
}
