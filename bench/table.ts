/** The benchmark's result rows and how they print. */

export interface Row {
  workload: string;
  /** drover, ansible (defaults), ansible (tuned), ssh2 floor, ... */
  tool: string;
  hosts: number;
  /** Medians over the runs; undefined when the row is n/a. */
  wallMs?: number;
  cpuMs?: number;
  peakRssKb?: number;
  /** CPU the (lab) target hosts spent, ms. */
  targetCpuMs?: number;
  peakFds?: number;
  runs: number;
  /** Why the row has no numbers, or what else to know about it. */
  note?: string;
  /** Set on non-drover rows: this row's wall time over drover's in the same workload. */
  ratio?: number;
  /** Extra numbers a workload reports (hosts in recap, ...). */
  extra?: Record<string, number | string>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Fills `ratio` of each row against the drover row of the same workload. */
export function addRatios(rows: Row[]): void {
  for (const r of rows) {
    if (r.tool === 'drover' || r.wallMs === undefined) continue;
    const base = rows.find((d) => d.workload === r.workload && d.tool === 'drover' && d.wallMs !== undefined);
    if (base?.wallMs) r.ratio = r.wallMs / base.wallMs;
  }
}

const secs = (ms: number | undefined): string => (ms === undefined ? '' : (ms / 1000).toFixed(2));
const mb = (kb: number | undefined): string => (kb === undefined ? '' : (kb / 1024).toFixed(0));

export function formatTable(rows: Row[]): string {
  const head = [
    'workload',
    'tool',
    'hosts',
    'wall s',
    'cpu s',
    'rss MB',
    'fds',
    'host cpu s',
    'x drover',
    'note',
  ];
  const body = rows.map((r) => [
    r.workload,
    r.tool,
    String(r.hosts),
    r.wallMs === undefined ? 'n/a' : secs(r.wallMs),
    secs(r.cpuMs),
    mb(r.peakRssKb),
    r.peakFds === undefined ? '' : String(r.peakFds),
    secs(r.targetCpuMs),
    r.ratio === undefined ? '' : `${r.ratio.toFixed(r.ratio < 10 ? 2 : 1)}x`,
    r.note ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i >= 2 && i <= 8 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
