import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { StatusStore } from '../core/ports.ts';
import { formatBytes } from '../core/units.ts';
import { workloadReport } from '../service/report.ts';
import { workloadView } from '../service/status.ts';
import { authenticate, canRead, type Reader } from '../service/tokens.ts';
import { escapeHtml as e, usageChart } from './usage-chart.ts';

// The status page (GET /ui): a person's workloads, one workload's jobs, attempts, evidence and history,
// and the utilization chart. Server-rendered HTML, no script. A person signs in by pasting their own token
// (`rebound token create`) into a form: it becomes an HttpOnly, SameSite=Strict cookie for /ui — never part
// of a URL, never readable by a page's script — and the webhook secret opens nothing here.

const COOKIE = 'rebound_token';

const STYLE = `body{font:14px system-ui,sans-serif;margin:2rem;color:#222;max-width:72rem}
h1{font-size:1.4rem}table{border-collapse:collapse;margin:1rem 0}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.status{padding:.1rem .5rem;border-radius:.6rem;background:#eee}.needs-attention,.exhausted{background:#fdd}.healthy{background:#dfd}.recovering{background:#ffd}
svg.usage{width:100%;max-width:760px;border:1px solid #ddd}svg .tick line{stroke:#eee}svg text{font-size:11px;fill:#555}
svg .requested{fill:none;stroke:#666;stroke-dasharray:3 2}svg .used.ok{fill:#4a9}svg .used.failed{fill:#d55}svg .retry .label{font-weight:bold}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.6rem}form.inline{display:inline}`;

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${e(title)} — Rebound</title><style>${STYLE}</style></head><body>${body}</body></html>`;

const signIn = (message = '') =>
  page(
    'Sign in',
    `<h1>Rebound</h1>${message ? `<p class="error">${e(message)}</p>` : ''}<form method="post" action="/ui/login"><p><label>Your token (<code>rebound token create</code>, or <code>.data/token</code> of <code>rebound start</code>)<br><input type="password" name="token" size="60" autocomplete="off" required></label></p><button type="submit">Sign in</button></form>`,
  );

const signOut =
  '<form class="inline" method="post" action="/ui/logout"><button type="submit">Sign out</button></form>';

async function readerOf(store: StatusStore, c: Context): Promise<Reader | undefined> {
  return authenticate(store, getCookie(c, COOKIE));
}

function table(rows: string[][], head: string[]): string {
  const cells = (r: string[], tag: string) => r.map((x) => `<${tag}>${x}</${tag}>`).join('');
  return `<table><thead><tr>${cells(head, 'th')}</tr></thead><tbody>${rows.map((r) => `<tr>${cells(r, 'td')}</tr>`).join('')}</tbody></table>`;
}

export function mountStatusPage(app: Hono<{ Variables: { reader: Reader } }>, store: StatusStore): void {
  app.get('/ui', async (c) => {
    const reader = await readerOf(store, c);
    if (!reader) return c.html(signIn());
    const list = (await store.listWorkloads()).filter((w) => canRead(reader, w));
    const rows = list.map((w) => [
      `<a href="/ui/w/${encodeURIComponent(w.key)}">${e(w.key)}</a>`,
      `<span class="status ${e(w.status)}">${e(w.status)}</span>`,
      e(w.updatedAt),
    ]);
    return c.html(
      page(
        'Workloads',
        `<h1>Workloads of ${e(reader.user)}${reader.admin ? ' (administrator: all)' : ''}</h1>${signOut}${rows.length ? table(rows, ['workload', 'status', 'updated']) : '<p>No workloads yet.</p>'}`,
      ),
    );
  });

  app.get('/ui/w/:key', async (c) => {
    const reader = await readerOf(store, c);
    if (!reader) return c.html(signIn(), 401);
    const key = c.req.param('key');
    const view = await workloadView({ store }, key);
    if (!view || !canRead(reader, view))
      return c.html(
        page('Not found', `<h1>No workload "${e(key)}"</h1><p><a href="/ui">All workloads</a></p>`),
        404,
      );
    const report = await workloadReport({ store }, key);
    const jobs = view.jobs.map((j) => [
      e(j.jobId),
      e(j.name),
      String(j.attempt),
      e(j.cause ?? ''),
      e(j.summary ?? ''),
      e(j.evidence.map((x) => `${x.signal}=${x.value}`).join('; ')),
    ]);
    const attempts = view.attempts.map((a) => [
      e(a.lineage),
      String(a.attempt),
      e(a.createdAt),
      e(a.changes.join(', ')),
    ]);
    const pct = (x: number | undefined) => (x === undefined ? '' : `${x}%`);
    const byName = report.byName.map((n) => [
      e(n.name),
      String(n.jobs),
      String(n.failed),
      n.maxPeakMemoryBytes === undefined ? '' : formatBytes(n.maxPeakMemoryBytes),
      pct(n.maxMemoryPercent),
      pct(n.maxTimePercent),
      pct(n.meanCpuEfficiencyPercent),
      String(n.wastedCoreHours),
      String(n.wastedGbHours),
    ]);
    return c.html(
      page(
        view.key,
        `<p><a href="/ui">All workloads</a> ${signOut}</p><h1>${e(view.key)} <span class="status ${e(view.status)}">${e(view.status)}</span></h1>
<h2>Memory per job</h2>${usageChart(report.jobs)}
<p>${report.totals.jobs} job(s), ${report.totals.failed} failed, ${report.totals.retries} retries; wasted ${report.totals.wastedCoreHours} core-hours and ${report.totals.wastedGbHours} GB-hours (a failed job's whole allocation; a completed job's memory above its peak and unused CPU time).</p>
${byName.length ? table(byName, ['job name', 'jobs', 'failed', 'max peak', 'max mem%', 'max time%', 'mean cpu%', 'waste core-h', 'waste GB-h']) : ''}
<h2>Jobs</h2>${jobs.length ? table(jobs, ['job', 'name', 'attempt', 'cause', 'summary', 'evidence']) : '<p>No jobs yet.</p>'}
<h2>Attempts</h2>${attempts.length ? table(attempts, ['chain', 'attempt', 'at', 'changes']) : '<p>No recovery attempts.</p>'}
<h2>History</h2><pre>${e(view.history.map((h) => `${h.at}  ${h.line}`).join('\n'))}</pre>`,
      ),
    );
  });

  app.post('/ui/login', async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    if (!(await authenticate(store, token)))
      return c.html(signIn('That token is not valid (or was revoked).'), 401);
    setCookie(c, COOKIE, token, {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/ui',
      secure: new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https',
      maxAge: 8 * 3600,
    });
    return c.redirect('/ui', 303);
  });

  app.post('/ui/logout', (c) => {
    deleteCookie(c, COOKIE, { path: '/ui' });
    return c.redirect('/ui', 303);
  });
}
