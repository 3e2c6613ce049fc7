/**
 * One playbook workload: drover and ansible on the same hosts, each tool starting from
 * freshly reset hosts, a first run and (optionally) an idempotent rerun, plus the ssh2
 * floor replaying the scripts drover actually ran.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { type BenchContext, floorCheck, floorCli, measurePhases, type Phase } from './context.js';
import type { FloorPlan, FloorStep } from './floor.js';
import type { Measurement } from './measure.js';
import type { Row } from './table.js';
import {
  droverCli,
  parseRecap,
  playbookArgv,
  repoRoot,
  type Target,
  TOOL_LABEL,
  type Tool,
  toolEnv,
} from './tools.js';

export interface PlaybookCase {
  workload: string;
  playbook: string;
  /** Inventory names of the hosts to run on (a --limit when fewer than the inventory holds). */
  hosts: string[];
  rerun: boolean;
  tools: Tool[];
  floor: boolean;
  /** Target to use instead of ctx.target (the latency proxy's inventory). */
  target?: Target;
  /** Reset hosts before each tool's first run (false when the hosts are simulated). */
  reset?: (names: string[]) => Promise<void>;
  /** Hosts are not lab hosts (the simulator): no reset, no target CPU. */
  simulated?: boolean;
  /** Extra drover arguments (-f at scale). */
  droverArgs?: string[];
}

export const recorderModule = join(repoRoot, 'dist/bench/record-scripts.js');

export async function resetFleetHosts(ctx: BenchContext, names: string[]): Promise<void> {
  const limit = pLimit(8);
  await Promise.all(names.map((n) => limit(() => ctx.fleet.resetHost(n))));
}

/** Checks a run's recap: every host present, none failed or unreachable. */
export function recapCheck(hosts: string[]) {
  return (m: Measurement): string | undefined => {
    const recap = parseRecap(m.stdout);
    const seen = new Set(recap.map((r) => r.host));
    const missing = hosts.filter((h) => !seen.has(h));
    const bad = recap.filter((r) => r.failed > 0 || r.unreachable > 0);
    if (missing.length)
      return `exit ${m.code}, ${missing.length}/${hosts.length} hosts missing from the recap`;
    if (bad.length)
      return `exit ${m.code}, ${bad.length} hosts failed or unreachable (first: ${bad[0]?.host})`;
    if (m.code !== 0) return `exit ${m.code}`;
    return undefined;
  };
}

function rerunNote(m: Measurement): string | undefined {
  const changed = parseRecap(m.stdout).reduce((n, r) => n + r.changed, 0);
  return changed ? `not idempotent: rerun changed=${changed}` : undefined;
}

/** Why drover cannot run the playbook (a missing module, say), or undefined. */
function unavailable(c: PlaybookCase, target: Target): string | undefined {
  const r = spawnSync(
    process.execPath,
    [droverCli, 'playbook', '--syntax-check', '-i', target.inventoryFile, c.playbook],
    { encoding: 'utf8', env: toolEnv('drover', target) },
  );
  if (r.status === 0) return undefined;
  const first =
    `${r.stderr}\n${r.stdout}`.split('\n').find((l) => /ERROR|error/.test(l)) ?? `exit ${r.status}`;
  return first.replace(/\s+/g, ' ').trim().slice(0, 120);
}

/** Output of a child run, without blocking the event loop (the latency proxies live in it). */
function runChild(
  argv: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] ?? '', argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        status: code ?? 1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
  });
}

/** Runs drover once under the recorder; the commands it ran, per target port. */
async function recordDrover(
  c: PlaybookCase,
  target: Target,
  file: string,
  limitArgs: string[],
): Promise<Record<string, FloorStep[]> | string> {
  const argv = playbookArgv('drover', target, c.playbook, [...limitArgs]);
  const r = await runChild([process.execPath, '--import', recorderModule, ...argv.slice(1)], {
    ...toolEnv('drover', target),
    DROVER_BENCH_RECORD: file,
    // The recorder patches ssh2 as loaded from node_modules; the bundle has its own copy.
    // This run is not measured.
    DROVER_NO_BUNDLE: '1',
  });
  if (recapCheck(c.hosts)({ code: r.status, stdout: r.stdout } as Measurement)) {
    const last = `${r.stderr}\n${r.stdout}`.trim().split('\n').slice(-3).join(' | ');
    return `recording run failed (exit ${r.status}): ${last.slice(0, 300)}`;
  }
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, FloorStep[]>;
}

function floorPlan(ctx: BenchContext, recorded: Record<string, FloorStep[]>, keyFile: string): FloorPlan {
  const names = new Map(ctx.fleet.hosts.map((h) => [h.port, h.name]));
  return {
    hosts: Object.entries(recorded).map(([port, steps]) => ({
      name: names.get(Number(port)) ?? `port${port}`,
      host: '127.0.0.1',
      port: Number(port),
      user: 'root',
      keyFile,
      steps,
    })),
  };
}

export async function benchPlaybookCase(ctx: BenchContext, c: PlaybookCase): Promise<Row[]> {
  const target: Target = { ...(c.target ?? ctx.target), hosts: c.hosts.length };
  const limitArgs = c.hosts.length < ctx.fleet.hosts.length ? ['-l', c.hosts.join(',')] : [];
  const n = c.hosts.length;
  const reset = c.reset ?? ((names: string[]) => resetFleetHosts(ctx, names));
  const rows: Row[] = [];
  const suffixes = c.rerun ? ['', ' (rerun)'] : [''];
  ctx.log(`${c.workload}: ${n} hosts, ${c.playbook.replace(`${repoRoot}/`, '')}`);

  const why = unavailable(c, target);
  if (why) {
    ctx.log(`  n/a: ${why}`);
    for (const tool of [...c.tools.map((t) => TOOL_LABEL[t]), ...(c.floor ? ['ssh2 floor'] : [])]) {
      for (const s of suffixes)
        rows.push({ workload: c.workload + s, tool, hosts: n, runs: 0, note: `n/a: ${why}` });
    }
    return rows;
  }

  const check = recapCheck(c.hosts);
  for (const tool of c.tools) {
    const extra = tool === 'drover' ? [...limitArgs, ...(c.droverArgs ?? [])] : limitArgs;
    const phase = (name: string, note?: (m: Measurement) => string | undefined): Phase => ({
      name,
      argv: () => playbookArgv(tool, target, c.playbook, extra),
      env: () => toolEnv(tool, target),
      check,
      note,
      targets: c.simulated ? undefined : c.hosts,
    });
    const phases = c.rerun ? [phase(''), phase(' (rerun)', rerunNote)] : [phase('')];
    rows.push(
      ...(await measurePhases(ctx, { workload: c.workload, tool: TOOL_LABEL[tool], hosts: n }, phases, () =>
        reset(c.hosts),
      )),
    );
  }

  if (c.floor) {
    await reset(c.hosts);
    const plans: (string | FloorPlan)[] = [];
    for (const [i] of suffixes.entries()) {
      const rec = await recordDrover(c, target, join(target.scratchDir, `record-${i}.json`), limitArgs);
      plans.push(typeof rec === 'string' ? rec : floorPlan(ctx, rec, ctx.fleet.keyFile));
    }
    const failed = plans.find((p): p is string => typeof p === 'string');
    if (failed) {
      for (const s of suffixes)
        rows.push({
          workload: c.workload + s,
          tool: 'ssh2 floor',
          hosts: n,
          runs: 0,
          note: `n/a: ${failed}`,
        });
    } else {
      const phases: Phase[] = plans.map((p, i) => {
        const file = join(target.scratchDir, `floor-plan-${i}.json`);
        writeFileSync(file, JSON.stringify(p));
        return {
          name: suffixes[i] ?? '',
          argv: () => [process.execPath, floorCli, file],
          env: () => process.env,
          check: floorCheck(n),
          targets: c.simulated ? undefined : c.hosts,
        };
      });
      rows.push(
        ...(await measurePhases(ctx, { workload: c.workload, tool: 'ssh2 floor', hosts: n }, phases, () =>
          reset(c.hosts),
        )),
      );
      if (n > 1) {
        const linear = phases.map((ph) => ({ ...ph, argv: () => [...ph.argv(), '--linear'] }));
        rows.push(
          ...(await measurePhases(
            ctx,
            { workload: c.workload, tool: 'ssh2 floor (linear)', hosts: n },
            linear,
            () => reset(c.hosts),
          )),
        );
      }
    }
  }
  // Group each phase's rows together: first runs, then reruns.
  return suffixes.flatMap((s) => rows.filter((r) => r.workload === c.workload + s));
}
