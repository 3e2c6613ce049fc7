#!/usr/bin/env node
/**
 * `npm run bench [-- --only adhoc,playbook --hosts 20 --runs 3 --json out.json]`
 *
 * Boots a lab fleet of real sshd hosts (.lab/bench, ports 23500+), runs each workload with
 * drover, ansible (defaults) and ansible (tuned) on the same hosts in the same run, plus
 * the ssh2 floor, and prints wall time, controller CPU, peak RSS, fds and ratios.
 * Speed is reported, never asserted: a row whose run did not do the work says so.
 */
import { writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { type Fleet, startFleet } from '../test/lab/fleet.js';
import {
  type BenchContext,
  type BenchOptions,
  floorCheck,
  floorCli,
  measureRuns,
  WORKLOADS,
  type Workload,
} from './context.js';
import type { FloorPlan, FloorStep } from './floor.js';
import { benchPlaybookCase } from './playbook-case.js';
import { addRatios, formatTable, type Row } from './table.js';
import {
  adhocAnswered,
  adhocArgv,
  benchPlaybooks,
  repoRoot,
  TOOL_LABEL,
  type Tool,
  toolEnv,
} from './tools.js';

const int = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a positive integer`);
  return n;
};

function parseOptions(argv: string[]): BenchOptions {
  const p = new Command('bench')
    .description('drover vs ansible vs the ssh2 floor on a lab fleet of real sshd hosts')
    .option('--only <list>', `workloads, comma separated: ${WORKLOADS.join(', ')}`, WORKLOADS.join(','))
    .option('--hosts <n>', 'hosts of the main fleet', int('hosts'), 20)
    .option('--runs <n>', 'runs per measurement (the median is reported)', int('runs'), 1)
    .option('--json <file>', 'also write every row as JSON')
    .option(
      '--tools <list>',
      'drover,ansible-defaults,ansible-tuned',
      'drover,ansible-defaults,ansible-tuned',
    )
    .option('--delay <ms>', 'one-way delay of the latency proxy', int('delay'), 25)
    .option('--latency-hosts <n>', 'hosts in the latency case', int('latency hosts'), 10)
    .option('--heavy-hosts <n>', 'hosts in the template/100-task/loop cases', int('heavy hosts'), 5)
    .option('--scale <list>', 'host counts of the scale case', '200,1000')
    .option('--base-port <port>', 'first port of the bench fleet', int('base port'), 23500)
    .showHelpAfterError()
    .parse(argv, { from: 'user' });
  const o = p.opts<{
    only: string;
    hosts: number;
    runs: number;
    json?: string;
    tools: string;
    delay: number;
    latencyHosts: number;
    heavyHosts: number;
    scale: string;
    basePort: number;
  }>();
  const only = new Set<Workload>();
  for (const w of o.only.split(',').filter(Boolean)) {
    if (!(WORKLOADS as readonly string[]).includes(w)) {
      p.error(`unknown workload ${w}: choose from ${WORKLOADS.join(', ')}`);
    }
    only.add(w as Workload);
  }
  const tools: Tool[] = [];
  for (const t of o.tools.split(',').filter(Boolean)) {
    if (!(t in TOOL_LABEL)) p.error(`unknown tool ${t}: choose from ${Object.keys(TOOL_LABEL).join(', ')}`);
    tools.push(t as Tool);
  }
  return {
    only,
    hosts: o.hosts,
    runs: o.runs,
    json: o.json,
    tools,
    delayMs: o.delay,
    latencyHosts: o.latencyHosts,
    heavyHosts: o.heavyHosts,
    scale: o.scale
      .split(',')
      .filter(Boolean)
      .map((s) => int('scale')(s)),
    basePort: o.basePort,
  };
}

function floorPlanFile(ctx: BenchContext, name: string, steps: (host: string) => FloorStep[]): string {
  const fleetUser = 'root';
  const plan: FloorPlan = {
    hosts: ctx.fleet.hosts.slice(0, ctx.target.hosts).map((h) => ({
      name: h.name,
      host: '127.0.0.1',
      port: h.port,
      user: fleetUser,
      keyFile: ctx.fleet.keyFile,
      steps: steps(h.name),
    })),
  };
  const file = join(ctx.target.scratchDir, `floor-${name}.json`);
  writeFileSync(file, JSON.stringify(plan));
  return file;
}

/** Workload 1: `shell -a true` on every host (the first bench of issue 3). */
async function benchAdhoc(ctx: BenchContext): Promise<void> {
  const n = ctx.target.hosts;
  const workload = 'adhoc shell true';
  ctx.log(`${workload}: ${n} hosts`);
  for (const tool of ctx.opts.tools) {
    const row = await measureRuns(
      ctx,
      { workload, tool: TOOL_LABEL[tool], hosts: n },
      () => adhocArgv(tool, ctx.target, 'shell', 'true'),
      () => toolEnv(tool, ctx.target),
      (m) => {
        const answered = adhocAnswered(m.stdout).length;
        return m.code !== 0 || answered !== n ? `exit ${m.code}, ${answered}/${n} hosts answered` : undefined;
      },
    );
    ctx.rows.push(row);
  }
  const plan = floorPlanFile(ctx, 'adhoc', () => [{ command: 'true' }]);
  ctx.rows.push(
    await measureRuns(
      ctx,
      { workload, tool: 'ssh2 floor', hosts: n },
      () => [process.execPath, floorCli, plan],
      () => process.env,
      floorCheck(n),
    ),
  );
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const dir = join(repoRoot, '.lab/bench');
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const needsFleet = [...opts.only].some((w) => w !== 'inventory' && w !== 'scale');
  const rows: Row[] = [];
  const scratchDir = join(dir, 'scratch');
  await mkdir(scratchDir, { recursive: true });
  let fleet: Fleet | undefined;
  const stopping = async (): Promise<void> => {
    await fleet?.stop();
  };
  const onSignal = (): void => {
    log('interrupted: stopping the bench fleet');
    void stopping().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (needsFleet) {
      const t0 = performance.now();
      fleet = await startFleet({
        count: opts.hosts,
        dir: join(dir, 'main'),
        basePort: opts.basePort,
        prefix: 'b',
      });
      log(`fleet: ${opts.hosts} hosts up in ${Math.round(performance.now() - t0)} ms`);
      const ctx: BenchContext = {
        opts,
        fleet,
        rows,
        log,
        target: {
          inventoryFile: fleet.inventoryFile,
          ansibleCfgFile: fleet.ansibleCfgFile,
          knownHostsFile: fleet.knownHostsFile,
          hosts: opts.hosts,
          scratchDir,
        },
      };
      if (opts.only.has('adhoc')) await benchAdhoc(ctx);
      if (opts.only.has('playbook')) {
        rows.push(
          ...(await benchPlaybookCase(ctx, {
            workload: '10-task playbook',
            playbook: join(benchPlaybooks, 'ten-tasks.yml'),
            hosts: fleet.hosts.map((h) => h.name),
            rerun: true,
            tools: opts.tools,
            floor: true,
          })),
        );
      }
    }
  } finally {
    await stopping();
  }
  addRatios(rows);
  process.stdout.write(`\n${formatTable(rows)}\n`);
  if (opts.json)
    writeFileSync(
      opts.json,
      `${JSON.stringify({ options: { ...opts, only: [...opts.only] }, rows }, null, 2)}\n`,
    );
}

await main();
