// What SST's CLI injects before it evaluates sst.config.ts, for the components these tests instantiate:
// `sst.aws.Dynamo`, `sst.aws.Queue`, `sst.aws.SnsTopic` and the `aws` provider namespace (no Lambda
// functions, so they run under Pulumi mocks),
// the shim's `$`-helpers, and the app. Bundled with the infra code by test/infra/infra.test.ts.

// @ts-expect-error resolved at run time next to SST's platform (.sst/platform/node_modules), not here
import * as aws from '@pulumi/aws';
import { Dynamo } from '../../.sst/platform/src/components/aws/dynamo.ts';
import { Queue } from '../../.sst/platform/src/components/aws/queue.ts';
import { SnsTopic } from '../../.sst/platform/src/components/aws/sns-topic.ts';
// @ts-expect-error the shim is plain JavaScript without types
import * as shim from '../../.sst/platform/src/shim/run.js';

const g = globalThis as Record<string, unknown>;
g.sst = { aws: { Dynamo, Queue, SnsTopic } };
g.aws = aws;
for (const [k, v] of Object.entries(shim as Record<string, unknown>)) g[k] = v;
g.$app = { name: 'rebound', stage: 'test', removal: 'remove', protect: false, providers: {} };
g.$dev = false;
