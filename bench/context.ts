/** What every workload gets: the options, the fleet, and how to measure phases into rows. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fleet } from '../test/lab/fleet.js';
import { type Measurement, measure } from './measure.js';
import { median, type Row } from './table.js';
import { repoRoot, type Target, type Tool } from './tools.js';

export const WORKLOADS = [
  'adhoc',
  'playbook',
  'heavy',
  'latency',
  'scale',
  'inventory',
  'infra',
  'build',
] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface BenchOptions {
  only: Set<Workload>;
  hosts: number;
  runs: number;
  json?: string;
  tools: Tool[];
  /** One-way delay the latency proxy adds, ms. */
  delayMs: number;
  latencyHosts: number;
  heavyHosts: number;
  scale: number[];
  basePort: number;
}

export interface BenchContext {
  opts: BenchOptions;
  fleet: Fleet;
  target: Target;
  rows: Row[];
  log: (line: string) => void;
}

/** PIDs of the hosts' sshd masters (PID 1 of each host), read after any reset. */
export function hostPids(fleet: Fleet, names: string[]): number[] {
  const pids: number[] = [];
  for (const n of names) {
    try {
      const state = JSON.parse(readFileSync(join(fleet.host(n).hostDir, 'host.json'), 'utf8')) as {
        pid?: number;
      };
      if (typeof state.pid === 'number') pids.push(state.pid);
    } catch {
      // not a lab host (simulated): no target CPU for it
    }
  }
  return pids;
}

export interface Phase {
  /** Suffix of the workload name: '' or ' (rerun)'. */
  name: string;
  argv: () => string[];
  env: () => NodeJS.ProcessEnv;
  /** Lab hosts whose CPU counts as target CPU. */
  targets?: string[];
  /** What is wrong with a run, or undefined; may add a note (idempotence). */
  check: (m: Measurement) => string | undefined;
  note?: (m: Measurement) => string | undefined;
}

/**
 * Runs the phases in order, opts.runs times (`before` first each time, e.g. resetting the
 * hosts), and returns one row per phase with the medians.
 */
export async function measurePhases(
  ctx: BenchContext,
  label: { workload: string; tool: string; hosts: number },
  phases: Phase[],
  before?: () => Promise<void>,
): Promise<Row[]> {
  const got: Measurement[][] = phases.map(() => []);
  const notes: (string | undefined)[] = phases.map(() => undefined);
  let problem: string | undefined;
  let failedPhase = -1;
  outer: for (let i = 0; i < ctx.opts.runs; i++) {
    if (before) await before();
    for (const [k, ph] of phases.entries()) {
      const targetPids = ph.targets ? hostPids(ctx.fleet, ph.targets) : undefined;
      const env = ph.env();
      const m = await measure(ph.argv(), {
        env,
        timeoutMs: 30 * 60_000,
        targetPids,
        adopt: env.ANSIBLE_SSH_CONTROL_PATH_DIR,
      });
      problem = ph.check(m);
      notes[k] ??= ph.note?.(m);
      ctx.log(
        `  ${label.workload}${ph.name} | ${label.tool} | run ${i + 1}: ${(m.wallMs / 1000).toFixed(2)} s` +
          (problem ? ` (${problem})` : ''),
      );
      if (problem) {
        const tail = (m.stderr.trim() ? m.stderr : m.stdout).trim().split('\n').slice(-6).join('\n    ');
        ctx.log(`    exit ${m.code}; last output:\n    ${tail}`);
        failedPhase = k;
        break outer;
      }
      got[k]?.push(m);
    }
  }
  return phases.map((ph, k) => {
    const ms = got[k] ?? [];
    const row: Row = { ...label, workload: label.workload + ph.name, runs: ms.length };
    if (failedPhase >= 0 && (k >= failedPhase || ms.length < ctx.opts.runs)) {
      row.note = k === failedPhase ? `failed: ${problem}` : 'n/a: an earlier phase failed';
      return row;
    }
    row.wallMs = median(ms.map((m) => m.wallMs));
    row.cpuMs = median(ms.map((m) => m.cpuMs));
    row.peakRssKb = median(ms.map((m) => m.peakRssKb));
    row.peakFds = median(ms.map((m) => m.peakFds));
    const target = ms.map((m) => m.targetCpuMs).filter((x): x is number => x !== undefined);
    if (target.length) row.targetCpuMs = median(target);
    if (notes[k]) row.note = notes[k];
    return row;
  });
}

export async function measureRuns(
  ctx: BenchContext,
  label: { workload: string; tool: string; hosts: number },
  argv: () => string[],
  env: () => NodeJS.ProcessEnv,
  check: (m: Measurement) => string | undefined,
  before?: () => Promise<void>,
  targets?: string[],
): Promise<Row> {
  const [row] = await measurePhases(ctx, label, [{ name: '', argv, env, check, targets }], before);
  return row as Row;
}

export const floorCli = join(repoRoot, 'dist/bench/floor.js');

export function floorCheck(hosts: number) {
  return (m: Measurement): string | undefined => {
    const ok = (m.stdout.match(/^\S+ ok \d+$/gm) ?? []).length;
    return m.code !== 0 || ok !== hosts ? `${ok}/${hosts} hosts ran their scripts` : undefined;
  };
}
