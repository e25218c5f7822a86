/* Hand-written: `sst dev`/`deploy` generate this file, which cannot run offline. */
/// <reference path="./.sst/platform/config.d.ts" />
import 'sst';

declare module 'sst' {
  export interface Resource {
    WebhookSecret: { type: 'sst.sst.Secret'; value: string };
  }
}
