#!/usr/bin/env node
/**
 * `npm run bench [-- --only adhoc,playbook --hosts 20 --runs 3 --json out.json]`
 *
 * Boots a lab fleet of real sshd hosts (.lab/bench, ports 23500+), runs each workload with
 * drover, ansible (defaults) and ansible (tuned) on the same hosts in the same run, plus
 * the ssh2 floor, and prints wall time, controller CPU, peak RSS, fds and ratios.
 * Speed is reported, never asserted: a row whose run did not do the work says so.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { type Fleet, startFleet } from '../test/lab/fleet.js';
import { benchBuildRows } from './build-case.js';
import {
  type BenchContext,
  type BenchOptions,
  floorCheck,
  floorCli,
  measureRuns,
  WORKLOADS,
  type Workload,
} from './context.js';
import { proxiedTarget, startDelayProxies } from './delay-proxy.js';
import type { FloorPlan, FloorStep } from './floor.js';
import { benchInfraRows } from './infra-case.js';
import { benchPlaybookCase } from './playbook-case.js';
import { addRatios, formatTable, type Row } from './table.js';
import {
  adhocAnswered,
  adhocArgv,
  benchPlaybooks,
  droverCli,
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
    .option('--heavy-hosts <n>', 'hosts in the template/100-task/loop cases', int('heavy hosts'), 2)
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
  const names = ctx.fleet.hosts.slice(0, n).map((h) => h.name);
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
      undefined,
      names,
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
      undefined,
      names,
    ),
  );
}

/**
 * Workload 6: the 10-task playbook on 200 and 1000 real sshd hosts, drover only (ansible
 * would need ~15 minutes per 1000-host run here). One fleet of the largest size; smaller
 * sizes run on its first hosts with --limit. Forks = hosts, as for tuned ansible.
 */
async function benchScale(
  opts: BenchOptions,
  dir: string,
  scratchDir: string,
  rows: Row[],
  log: (line: string) => void,
): Promise<void> {
  const max = Math.max(...opts.scale);
  const t0 = performance.now();
  let fleet: Fleet;
  try {
    fleet = await startFleet({ count: max, dir, basePort: opts.basePort, prefix: 's', concurrency: 32 });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    for (const n of opts.scale)
      rows.push({
        workload: '10-task (scale)',
        tool: 'drover',
        hosts: n,
        runs: 0,
        note: `n/a: fleet of ${max} did not boot: ${why}`,
      });
    return;
  }
  log(`scale fleet: ${max} real sshd hosts up in ${Math.round(performance.now() - t0)} ms`);
  try {
    const ctx: BenchContext = {
      opts,
      fleet,
      rows,
      log,
      target: {
        inventoryFile: fleet.inventoryFile,
        ansibleCfgFile: fleet.ansibleCfgFile,
        knownHostsFile: fleet.knownHostsFile,
        hosts: max,
        scratchDir,
      },
    };
    for (const n of [...opts.scale].sort((a, b) => a - b)) {
      const names = fleet.hosts.slice(0, n).map((h) => h.name);
      rows.push(
        ...(await benchPlaybookCase(ctx, {
          workload: `10-task (scale ${n})`,
          playbook: join(benchPlaybooks, 'ten-tasks.yml'),
          hosts: names,
          rerun: true,
          tools: ['drover'],
          floor: false,
          droverArgs: ['-f', String(n)],
          // Rebooting 1000 hosts costs more than the run; the playbook writes only under
          // /tmp/drover-bench, so removing that makes a host fresh for it.
          reset: async (hs) => {
            const r = spawnSync(
              process.execPath,
              [
                droverCli,
                'exec',
                'all',
                '-i',
                fleet.inventoryFile,
                '-l',
                hs.join(','),
                '-f',
                String(hs.length),
                '-m',
                'shell',
                '-a',
                'rm -rf /tmp/drover-bench',
              ],
              { encoding: 'utf8', env: toolEnv('drover', ctx.target), maxBuffer: 1 << 28 },
            );
            if (r.status !== 0)
              throw new Error(`resetting the scale hosts failed (exit ${r.status}): ${r.stderr.slice(-300)}`);
          },
        })),
      );
    }
  } finally {
    await fleet.stop();
  }
}

/** Workload 7: the inventory engineer's bench (bench/inventory.ts), if it is there. */
async function benchInventoryRows(log: (line: string) => void): Promise<Row[]> {
  const workload = 'inventory 10k hosts';
  // A computed specifier: the bench must still build and run where that file is missing.
  const spec = ['.', 'inventory.js'].join('/');
  let fn: unknown;
  try {
    fn = ((await import(spec)) as { benchInventory?: unknown }).benchInventory;
  } catch (e) {
    return [
      {
        workload,
        tool: 'drover',
        hosts: 10_000,
        runs: 0,
        note: `n/a: bench/inventory.ts not loadable: ${e instanceof Error ? e.message : String(e)}`,
      },
    ];
  }
  if (typeof fn !== 'function') {
    return [
      {
        workload,
        tool: 'drover',
        hosts: 10_000,
        runs: 0,
        note: 'n/a: bench/inventory.ts has no benchInventory()',
      },
    ];
  }
  log(`${workload}: benchInventory()`);
  const r = (await fn()) as { name?: unknown; droverMs?: unknown; ansibleMs?: unknown };
  if (typeof r.droverMs !== 'number' || typeof r.ansibleMs !== 'number') {
    return [
      { workload, tool: 'drover', hosts: 10_000, runs: 0, note: 'n/a: benchInventory() returned no timings' },
    ];
  }
  const note = typeof r.name === 'string' ? r.name.replace(/^inventory: /, '') : undefined;
  return [
    {
      workload,
      tool: 'drover',
      hosts: 10_000,
      runs: 1,
      wallMs: r.droverMs,
      note: note ? `in-process: ${note}` : undefined,
    },
    {
      workload,
      tool: 'ansible-inventory',
      hosts: 10_000,
      runs: 1,
      wallMs: r.ansibleMs,
      note: 'ansible-inventory --list',
    },
  ];
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  // The lab hosts share this machine's cores with the controller: a busy machine slows both.
  const startLoad = loadavg()[0]?.toFixed(1);
  const dir = join(repoRoot, '.lab/bench');
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const needsFleet = [...opts.only].some(
    (w) => w !== 'inventory' && w !== 'scale' && w !== 'infra' && w !== 'build',
  );
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
      if (opts.only.has('heavy')) {
        // ansible needs ~1 s per task per few hosts here: the heavy cases use fewer hosts and
        // only tuned ansible, or one bench would take an hour.
        const names = fleet.hosts.slice(0, Math.min(opts.heavyHosts, opts.hosts)).map((h) => h.name);
        const tools = opts.tools.filter((t) => t !== 'ansible-defaults');
        for (const [workload, file] of [
          ['template role (50)', 'templated.yml'],
          ['100-task playbook', 'hundred-tasks.yml'],
          ['loop of 100 items', 'loop.yml'],
        ] as const) {
          rows.push(
            ...(await benchPlaybookCase(ctx, {
              workload,
              playbook: join(benchPlaybooks, file),
              hosts: names,
              rerun: true,
              tools,
              floor: true,
            })),
          );
        }
      }
      if (opts.only.has('latency')) {
        const hosts = fleet.hosts.slice(0, Math.min(opts.latencyHosts, opts.hosts));
        const workload = `10-task, ${opts.delayMs * 2} ms RTT`;
        // a port taken by something else must cost this case its rows, not the whole table
        const proxies = await startDelayProxies(
          hosts.map((h) => h.port),
          opts.basePort + 1400,
          opts.delayMs,
        ).catch((e: unknown) => {
          const why = e instanceof Error ? e.message : String(e);
          log(`${workload}: the delay proxies did not start: ${why}`);
          rows.push({ workload, tool: 'drover', hosts: hosts.length, runs: 0, note: `n/a: proxies: ${why}` });
          return undefined;
        });
        if (proxies)
          try {
            const pdir = join(dir, 'latency');
            await mkdir(pdir, { recursive: true });
            const names = hosts.map((h) => h.name);
            rows.push(
              ...(await benchPlaybookCase(ctx, {
                workload,
                playbook: join(benchPlaybooks, 'ten-tasks.yml'),
                hosts: names,
                rerun: true,
                tools: opts.tools.filter((t) => t !== 'ansible-defaults'),
                floor: true,
                target: await proxiedTarget(fleet, names, proxies.ports, pdir, scratchDir),
              })),
            );
          } finally {
            await proxies.close();
          }
      }
    }
  } finally {
    await stopping();
  }
  if (opts.only.has('inventory')) rows.push(...(await benchInventoryRows(log)));
  if (opts.only.has('infra')) rows.push(...(await benchInfraRows(log)));
  if (opts.only.has('build')) rows.push(...(await benchBuildRows(log)));
  if (opts.only.has('scale') && opts.scale.length)
    await benchScale(opts, join(dir, 'scale'), scratchDir, rows, log);
  addRatios(rows);
  const [l1, l5] = loadavg();
  process.stdout.write(
    `\n${formatTable(rows)}\n\n` +
      `machine: ${cpus().length} cores, load average ${startLoad} at start, ${l1?.toFixed(1)} / ${l5?.toFixed(1)} (1/5 min) at end. ` +
      'cpu = controller process tree (user+sys), host cpu = the lab hosts (sshd, shells, scripts), ' +
      "x drover = wall time over drover's.\n",
  );
  if (opts.json)
    writeFileSync(
      opts.json,
      `${JSON.stringify({ options: { ...opts, only: [...opts.only] }, rows }, null, 2)}\n`,
    );
}

await main();
