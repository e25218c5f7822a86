import { scaleBand, scaleLinear } from 'd3-scale';
import { formatBytes } from '../core/units.ts';
import type { JobUsage } from '../core/utilization.ts';

// The status page's utilization chart: per job, the memory it requested (an outline) and its peak (filled;
// red when the job failed), retries marked ↻. SVG, one <g class="job" data-job-id="…"> per job, so each
// mark can be counted and names its job. d3-scale places the bars and picks the ticks; nothing runs in the
// browser.

const WIDTH = 760;
const HEIGHT = 300;
const M = { top: 24, right: 16, bottom: 56, left: 72 };

/** Text for HTML and SVG: job names come from users. */
export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const n = (x: number) => Math.round(x * 10) / 10;

export function usageChart(jobs: JobUsage[]): string {
  if (!jobs.length) return '<p class="empty">No finished job to chart yet.</p>';
  const x = scaleBand<string>()
    .domain(jobs.map((j) => j.jobId))
    .range([M.left, WIDTH - M.right])
    .padding(0.25);
  const top = Math.max(1, ...jobs.map((j) => Math.max(j.memoryRequestedBytes ?? 0, j.peakMemoryBytes ?? 0)));
  const y = scaleLinear()
    .domain([0, top])
    .nice()
    .range([HEIGHT - M.bottom, M.top]);
  const ticks = y
    .ticks(5)
    .map(
      (t) =>
        `<g class="tick"><line x1="${M.left}" x2="${WIDTH - M.right}" y1="${n(y(t))}" y2="${n(y(t))}"/><text x="${M.left - 6}" y="${n(y(t))}" dy="0.32em" text-anchor="end">${formatBytes(t)}</text></g>`,
    )
    .join('');
  const bars = jobs
    .map((j) => {
      const left = x(j.jobId)!;
      const w = x.bandwidth();
      const failed = j.cause !== undefined && j.cause !== 'success';
      const requested =
        j.memoryRequestedBytes === undefined
          ? ''
          : `<rect class="requested" x="${n(left)}" y="${n(y(j.memoryRequestedBytes))}" width="${n(w)}" height="${n(y(0) - y(j.memoryRequestedBytes))}"/>`;
      const peak = Math.min(j.peakMemoryBytes ?? 0, y.domain()[1]!);
      const used =
        j.peakMemoryBytes === undefined
          ? ''
          : `<rect class="used ${failed ? 'failed' : 'ok'}" x="${n(left + w * 0.2)}" y="${n(y(peak))}" width="${n(w * 0.6)}" height="${n(y(0) - y(peak))}"/>`;
      const title = `Job ${j.jobId} (${j.name})${j.retry ? `, retry ${j.attempt}` : ''}: ${j.cause ?? 'no verdict'}; peak ${j.peakMemoryBytes === undefined ? 'unknown' : formatBytes(j.peakMemoryBytes)} of ${j.memoryRequestedBytes === undefined ? 'unknown' : formatBytes(j.memoryRequestedBytes)} requested`;
      const label = `<text class="label" x="${n(left + w / 2)}" y="${HEIGHT - M.bottom + 14}" text-anchor="middle">${escapeHtml(j.jobId)}${j.retry ? ' ↻' : ''}</text>`;
      return `<g class="job${j.retry ? ' retry' : ''}" data-job-id="${escapeHtml(j.jobId)}" data-retry="${j.retry}" data-cause="${j.cause ?? ''}"><title>${escapeHtml(title)}</title>${requested}${used}${label}</g>`;
    })
    .join('');
  return `<svg class="usage" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="Memory per job: requested and peak">${ticks}${bars}<text class="axis" x="${M.left}" y="${HEIGHT - 8}">job (↻ a retry) — outline: requested memory; bar: peak (red: the job failed)</text></svg>`;
}
