import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snsPublisher } from '../../aws/sns-publisher.ts';
import { parseServiceConfig } from '../../service/config.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { deliverNotices, fetchPost, notifyChannels } from '../../service/notify.ts';
import { verifySignature } from '../../service/signature.ts';
import { testDeps } from '../support/deps.ts';
import { sacctEvent } from '../support/events.ts';

// "A person is told", against a real HTTP receiver that fails its first two deliveries: one notice per
// transition, at least once per channel, however often the event that made it is delivered.

const SECRET = 'outbound-notify-secret-of-32-bytes-or-more';
type Received = { path: string; body: string; headers: IncomingMessage['headers'] };
const received: Received[] = [];
let refusals = 2;
const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (refusals-- > 0) {
    res.writeHead(500).end('receiver down');
    return;
  }
  received.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
  res.writeHead(200).end('ok');
});
let base = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('notifications', () => {
  it('a workload that comes to need attention is told once per channel, after two refused tries, whatever the redeliveries', async () => {
    const config = parseServiceConfig({
      notify: [
        { type: 'webhook', url: `${base}/hook`, secretEnv: 'NOTIFY_TEST_SECRET' },
        { type: 'slack', url: `${base}/slack` },
        { type: 'teams', url: `${base}/teams` },
      ],
    });
    const deps = testDeps({ notify: config.notify });
    const notify = {
      ...deps,
      channels: notifyChannels(config.notify, { post: fetchPost, secretOf: () => SECRET }),
    };
    // Exit 3: unknown, not retried — the workload needs attention. Delivered, then redelivered 3 times.
    const failed = sacctEvent('9', {
      state: 'FAILED',
      exitCode: '3:0',
      maxRss: '10M',
      comment: 'rebound:nightly',
    });
    for (let i = 0; i < 4; i++) await handleEvent(deps, failed);
    expect((await deps.store.getWorkload('nightly'))?.status).toBe('needs-attention');

    // The first pass: the webhook's try is refused, so is Slack's; Teams gets it.
    expect(await deliverNotices(notify)).toEqual({ delivered: 1, failed: 2 });
    const [notice] = (await deps.store.getWorkload('nightly'))!.notices!;
    expect(notice).toMatchObject({
      attempts: 1,
      sent: ['teams#3'],
      lastError: expect.stringMatching(/HTTP 500/),
    });
    // Not due yet: nothing is sent again before its backoff.
    expect(await deliverNotices(notify)).toEqual({ delivered: 0, failed: 0 });
    deps.advance(10);
    expect(await deliverNotices(notify)).toEqual({ delivered: 2, failed: 0 });
    expect((await deps.store.getWorkload('nightly'))!.notices).toEqual([]);
    for (let i = 0; i < 3; i++) {
      await handleEvent(deps, failed);
      deps.advance(3600);
      expect(await deliverNotices(notify)).toEqual({ delivered: 0, failed: 0 });
    }

    expect(received.map((r) => r.path).sort()).toEqual(['/hook', '/slack', '/teams']);
    const hook = received.find((r) => r.path === '/hook')!;
    const body = JSON.parse(hook.body);
    expect(body).toMatchObject({
      type: 'rebound.notice',
      workload: 'nightly',
      status: 'needs-attention',
      inspect: 'rebound status nightly',
    });
    expect(body.reason.join('\n')).toMatch(/Unknown failure/);
    const verdict = verifySignature(
      SECRET,
      hook.headers['x-rebound-timestamp'] as string,
      hook.headers['x-rebound-signature'] as string,
      { method: 'POST', path: '/hook', body: hook.body },
    );
    expect(verdict).toEqual({ ok: true, legacy: false });
    const slack = JSON.parse(received.find((r) => r.path === '/slack')!.body);
    expect(slack.text).toMatch(/^Rebound: nightly needs attention\n/);
    const teams = JSON.parse(received.find((r) => r.path === '/teams')!.body);
    expect(teams.attachments[0]).toMatchObject({
      contentType: 'application/vnd.microsoft.card.adaptive',
      content: { type: 'AdaptiveCard', version: '1.4' },
    });
    const card = teams.attachments[0].content.body.map((b: { text: string }) => b.text);
    expect(card[0]).toBe('Rebound: nightly needs attention');
    expect(card).toContain('No recoverable jobs found. 1 job(s) failed with unknown causes.');
    expect(card.at(-1)).toBe('Inspect: rebound status nightly');
  });

  it('a receiver that never answers 2xx is given up on after its tries, and status says so', async () => {
    const deps = testDeps();
    refusals = Number.POSITIVE_INFINITY;
    const notify = {
      ...deps,
      channels: notifyChannels(
        parseServiceConfig({ notify: [{ type: 'slack', url: `${base}/down` }] }).notify,
        {
          post: fetchPost,
          secretOf: () => undefined,
        },
      ),
    };
    await handleEvent(
      deps,
      sacctEvent('10', { state: 'FAILED', exitCode: '3:0', maxRss: '10M', comment: 'rebound:weekly' }),
    );
    for (let i = 0; i < 20; i++) {
      await deliverNotices(notify);
      deps.advance(3600);
    }
    const [notice] = (await deps.store.getWorkload('weekly'))!.notices!;
    expect(notice).toMatchObject({
      attempts: 16,
      sent: [],
      gaveUpAt: expect.any(String),
      lastError: expect.stringMatching(/HTTP 500/),
    });
    refusals = 0;
  });

  it('an SNS channel publishes subject and text to its topic (fauxqs: SNS to an SQS subscription); locally it is refused at start', async () => {
    const sns = await startFauxqs({ port: 0, logger: false });
    try {
      const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
      const snsClient = new SNSClient({ endpoint: sns.address, region: 'us-east-1', credentials });
      const sqs = new SQSClient({
        endpoint: sns.address,
        region: 'us-east-1',
        credentials,
        useQueueUrlAsEndpoint: false,
      });
      const { TopicArn } = await snsClient.send(new CreateTopicCommand({ Name: 'rebound-notifications' }));
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'inbox' }));
      await snsClient.send(
        new SubscribeCommand({
          TopicArn,
          Protocol: 'sqs',
          Endpoint: 'arn:aws:sqs:us-east-1:000000000000:inbox',
        }),
      );
      const deps = testDeps();
      const channels = parseServiceConfig({ notify: [{ type: 'sns' }] }).notify;
      expect(() => notifyChannels(channels, { post: fetchPost, secretOf: () => undefined })).toThrow(
        /notify\[0\]: an "sns" channel needs AWS/,
      );
      const notify = {
        ...deps,
        channels: notifyChannels(channels, {
          post: fetchPost,
          publish: snsPublisher(snsClient),
          defaultTopicArn: TopicArn!,
          secretOf: () => undefined,
        }),
      };
      await handleEvent(
        deps,
        sacctEvent('11', { state: 'FAILED', exitCode: '3:0', maxRss: '10M', comment: 'rebound:monthly' }),
      );
      expect(await deliverNotices(notify)).toEqual({ delivered: 1, failed: 0 });
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 2 }));
      const envelope = JSON.parse(Messages[0]!.Body!);
      expect(envelope.Subject).toBe('Rebound: monthly needs attention');
      expect(envelope.Message).toMatch(/^Rebound: monthly needs attention\n\nJob 11 \(hog\)/);
      expect(envelope.Message).toMatch(/\nInspect: rebound status monthly$/);
    } finally {
      await sns.stop();
    }
  });
});
