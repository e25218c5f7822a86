import { startLambdaHost } from './lambda-host.ts';

// The Lambda host in a process of its own, so that a test can cap its heap as Lambda caps a function's
// memory (`node --max-old-space-size=…`). Argument: JSON { port, config, secret, dynamoEndpoint,
// sqsEndpoint, concurrency?, maxMessageBytes?, cronSeconds? }. Prints one line, `READY <the functions' environment>`,
// then serves until killed; /_host/stats gives its figures.

const args = JSON.parse(process.argv[2] ?? '{}');
const host = await startLambdaHost(
  { dynamoEndpoint: args.dynamoEndpoint, sqsEndpoint: args.sqsEndpoint },
  args.port,
  args.config,
  args.secret,
  { concurrency: args.concurrency, maxMessageBytes: args.maxMessageBytes, cronSeconds: args.cronSeconds },
);
process.stdout.write(`READY ${JSON.stringify(host.setup.env)}\n`);
process.on('SIGTERM', () => void host.stop().then(() => process.exit(0)));
