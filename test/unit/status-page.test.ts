import { describe, expect, it } from 'vitest';
import type { Event } from '../../core/events.ts';
import { createApp } from '../../functions/app.ts';
import { usageChart } from '../../functions/usage-chart.ts';
import { handleEvent } from '../../service/dispatch.ts';
import { workloadReport } from '../../service/report.ts';
import { mintToken } from '../../service/tokens.ts';
import { testDeps } from '../support/deps.ts';
import { resultEvent, sacctEvent } from '../support/events.ts';
import { MemoryQueue } from '../support/memory-queue.ts';

// The status page's routes and chart (the browser test is in test/e2e/manual.test.ts): sign-in by a token
// in a form that becomes an HttpOnly cookie, a user's own workloads only, one chart mark per job.

const SECRET = 'status-page-secret-of-32-bytes-at-least';

async function setUp() {
  const deps = { ...testDeps({ mode: 'site' }), events: new MemoryQueue<Event>() };
  // alice's job 77 runs out of memory and its retry 78 completes; its name is hostile markup.
  const owner = { uid: 1501, user: 'alice' };
  await handleEvent(deps, sacctEvent('77', { owner, jobName: '<script>x()</script>' }));
  await handleEvent(deps, resultEvent(deps.commands.sent().at(-1)!, { slurmJobIds: ['78'] }));
  await handleEvent(
    deps,
    sacctEvent('78', {
      owner,
      state: 'COMPLETED',
      exitCode: '0:0',
      reqMem: '375M',
      maxRss: '260M',
      comment: 'rebound:nightly/lab:77:a1',
    }),
  );
  const app = createApp({ events: deps.events, store: deps.store, config: deps.config, secret: SECRET });
  const signIn = async (user: string, uid: number) => {
    const token = await mintToken(deps.store, { user, uid, admin: false }, new Date());
    const res = await app.request('/ui/login', {
      method: 'POST',
      body: new URLSearchParams({ token }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    return { res, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]! };
  };
  return { deps, app, signIn };
}

describe('the status page', () => {
  it('signs in with a token posted in a form (an HttpOnly cookie), never with the webhook secret', async () => {
    const { app, signIn } = await setUp();
    expect(await (await app.request('/ui')).text()).toContain('<form method="post" action="/ui/login">');
    const { res } = await signIn('alice', 1501);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui');
    expect(res.headers.get('set-cookie')).toMatch(
      /^rebound_token=rbt%3Aalice%3A.*; Max-Age=28800; Path=\/ui; HttpOnly; SameSite=Strict$/,
    );
    const refused = await app.request('/ui/login', {
      method: 'POST',
      body: new URLSearchParams({ token: SECRET }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(refused.status).toBe(401);
    expect((await app.request('/ui/w/nightly@alice')).status).toBe(401);
  });

  it("shows a user's own workload with one chart mark per job, names escaped; another user's is not there", async () => {
    const { app, signIn } = await setUp();
    const alice = await signIn('alice', 1501);
    const list = await (await app.request('/ui', { headers: { cookie: alice.cookie } })).text();
    expect(list).toContain('<a href="/ui/w/nightly%40alice">nightly@alice</a>');
    const res = await app.request('/ui/w/nightly@alice', { headers: { cookie: alice.cookie } });
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(
      [...html.matchAll(/<g class="job[^"]*" data-job-id="(\d+)" data-retry="(\w+)"/g)].map((m) => [
        m[1],
        m[2],
      ]),
    ).toEqual([
      ['77', 'false'],
      ['78', 'true'],
    ]);
    expect(html).toContain('<th>job name</th><th>jobs</th><th>failed</th>');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;x()&lt;/script&gt;');
    const mallory = await signIn('mallory', 1502);
    expect((await app.request('/ui/w/nightly@alice', { headers: { cookie: mallory.cookie } })).status).toBe(
      404,
    );
  });

  it('charts requested memory against the peak, failed peaks marked', async () => {
    const { deps } = await setUp();
    const svg = usageChart((await workloadReport(deps, 'nightly@alice')).jobs);
    expect(svg).toMatch(/<g class="job" data-job-id="77" data-retry="false" data-cause="oom">/);
    expect(svg).toMatch(/<rect class="used failed"/);
    expect(svg).toMatch(
      /<g class="job retry" data-job-id="78" data-retry="true" data-cause="success">.*<rect class="used ok"/,
    );
    expect(usageChart([])).toContain('No finished job to chart yet.');
  });
});
