// What SST's CLI injects before it evaluates sst.config.ts, for the components these tests instantiate:
// `sst.aws.Dynamo` and `sst.aws.Queue` (they create no Lambda functions, so they run under Pulumi mocks),
// the shim's `$`-helpers, and the app. Bundled with the infra code by test/infra/infra.test.ts.
import { Dynamo } from '../../.sst/platform/src/components/aws/dynamo.ts';
import { Queue } from '../../.sst/platform/src/components/aws/queue.ts';
// @ts-expect-error the shim is plain JavaScript without types
import * as shim from '../../.sst/platform/src/shim/run.js';

const g = globalThis as Record<string, unknown>;
g.sst = { aws: { Dynamo, Queue } };
for (const [k, v] of Object.entries(shim as Record<string, unknown>)) g[k] = v;
g.$app = { name: 'rebound', stage: 'test', removal: 'remove', protect: false, providers: {} };
g.$dev = false;
