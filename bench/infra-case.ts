/**
 * Infra benchmark (`npm run bench -- --only infra`; alone: `node dist/bench/infra-case.js`):
 * `drover infra` apply, plan and destroy of 200 light resources (random_id + local_file, each
 * file's content from its random_id: 100 dependency edges) and of 20 `machine`s (real
 * namespaced sshd hosts, ports 25600-25649), and plan time with 2,000 resources in state
 * (with refresh, and with -refresh=false). Each row is one measured CLI run (the peak RSS of
 * a machines apply includes the booting hosts: they are children of the run); a run that did
 * not do the work (wrong exit code, no "Apply complete!") says so in its note.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanupStale } from '../src/machine/cleanup.js';
import { type Measurement, measure } from './measure.js';
import type { Row } from './table.js';
import { droverCli, repoRoot } from './tools.js';

export const INFRA_MACHINE_PORTS = '25600-25649';

interface Step {
  label: string;
  args: string[];
  /** What stdout must contain for the row to count. */
  expect: RegExp;
  count: number;
}

function lightConfig(n: number): string {
  const half = n / 2;
  return [
    'resources:',
    '  random_id:',
    '    r:',
    `      count: ${half}`,
    '      byte_length: 8',
    '  local_file:',
    '    f:',
    `      count: ${half}`,
    '      filename: "out/f{{ count.index }}.txt"',
    '      content: "{{ random_id.r[count.index].hex }}\\n"',
    '',
  ].join('\n');
}

function machineConfig(n: number): string {
  return [
    'resources:',
    '  machine:',
    '    m:',
    `      count: ${n}`,
    `      port_range: "${INFRA_MACHINE_PORTS}"`,
    '',
  ].join('\n');
}

function stateOnlyConfig(n: number): string {
  return ['resources:', '  random_id:', '    r:', `      count: ${n}`, '      byte_length: 4', ''].join('\n');
}

function rowOf(workload: string, step: Step, m: Measurement): Row {
  const ok = m.code === 0 && step.expect.test(m.stdout);
  const row: Row = {
    workload,
    tool: 'drover',
    hosts: step.count,
    runs: 1,
    wallMs: m.wallMs,
    cpuMs: m.cpuMs,
    peakRssKb: m.peakRssKb,
    peakFds: m.peakFds,
    extra: { step: step.label },
  };
  if (!ok) {
    row.note = `${step.label}: exit ${m.code}, expected ${String(step.expect)} (${(m.stderr || m.stdout).trim().split('\n').slice(-1)[0] ?? ''})`;
  } else row.note = step.label;
  return row;
}

async function runSteps(
  workload: string,
  dir: string,
  steps: Step[],
  log: (s: string) => void,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const step of steps) {
    log(`infra: ${workload} ${step.label}`);
    const m = await measure([process.execPath, droverCli, 'infra', ...step.args, dir], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1' },
      timeoutMs: 600_000,
      // Machines outlive the apply on purpose (that is the feature): never end them here.
      killLeftovers: false,
    });
    rows.push(rowOf(workload, step, m));
  }
  return rows;
}

/** `only`: workloads whose name contains one of these words (default: all). */
export async function benchInfraRows(
  log: (s: string) => void = () => undefined,
  only: string[] = [],
): Promise<Row[]> {
  const base = join(repoRoot, '.lab', 'bench-infra');
  await cleanupStale(base).catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
  const rows: Row[] = [];
  try {
    const apply = (n: number, label: string): Step => ({
      label,
      args: ['apply', '-auto-approve'],
      expect: new RegExp(`Resources: ${n} added`),
      count: n,
    });
    const plan = (n: number, label: string, extra: string[] = []): Step => ({
      label,
      args: ['plan', ...extra],
      expect: /No changes\./,
      count: n,
    });
    const destroy = (n: number): Step => ({
      label: 'destroy',
      args: ['destroy', '-auto-approve'],
      expect: new RegExp(`Resources: ${n} destroyed`),
      count: n,
    });
    const cases: { workload: string; config: string; steps: Step[] }[] = [
      {
        workload: 'infra light',
        config: lightConfig(200),
        steps: [apply(200, 'apply (create)'), plan(200, 'plan (refresh, no changes)'), destroy(200)],
      },
      {
        workload: 'infra machines',
        config: machineConfig(20),
        steps: [apply(20, 'apply (boot)'), plan(20, 'plan (refresh, no changes)'), destroy(20)],
      },
      {
        workload: 'infra 2000 in state',
        config: stateOnlyConfig(2000),
        steps: [
          apply(2000, 'apply (create)'),
          plan(2000, 'plan (refresh)'),
          plan(2000, 'plan -refresh=false', ['-refresh=false']),
        ],
      },
    ];
    for (const c of cases) {
      if (only.length > 0 && !only.some((w) => c.workload.includes(w))) continue;
      const dir = join(base, c.workload.replace(/\s+/g, '-'));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'main.infra.yml'), c.config);
      rows.push(...(await runSteps(c.workload, dir, c.steps, log)));
    }
  } finally {
    await cleanupStale(base).catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchInfraRows((s) => process.stderr.write(`${s}\n`), process.argv.slice(2));
  for (const r of rows) {
    process.stdout.write(
      `${r.workload.padEnd(20)} ${String(r.extra?.step).padEnd(28)} ${String(r.hosts).padStart(5)}  ` +
        `${((r.wallMs ?? 0) / 1000).toFixed(2)} s  cpu ${((r.cpuMs ?? 0) / 1000).toFixed(2)} s  ` +
        `rss ${Math.round((r.peakRssKb ?? 0) / 1024)} MB${r.note && r.note !== r.extra?.step ? `  ${r.note}` : ''}\n`,
    );
  }
}
