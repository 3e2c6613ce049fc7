/**
 * Table-driven module scenarios on the lab fleet. One scenario = one playbook task; a whole
 * table runs as ONE play (many tasks) per step, so the cost is a handful of processes:
 *
 *   drover host D:  --check --diff (digest of D's writable layer equal before and after)
 *                   -> --diff (real run) -> rerun
 *   twin host A:    ansible-playbook --check --diff -> ansible-playbook --diff
 *                   (fresh host, same setup, run concurrently with D's steps)
 *
 * Per task: drover's status in each step (from `--output json` lines) against the
 * scenario's expectation AND against ansible-core's status for the same step; the `--diff`
 * text drover prints for the task against the text ansible-playbook prints (normalised only
 * where the two must differ, see normaliseDiff); the scenario's `expect` shell command run
 * on both hosts after the real run must print the same thing.
 *
 * Adding a scenario is one entry in a table (test/e2e/scenarios/*.ts).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { TaskResult } from '../../../modules/types.js';
import type { Fleet } from '../../lab/fleet.js';
import { type RunResult, runAnsiblePlaybook, runDrover, runSsh } from '../../lab/use-fleet.js';

export type Status = 'ok' | 'changed' | 'skipped' | 'failed';

export interface Scenario {
  /** Unique; also the task name. */
  id: string;
  module: string;
  args: Record<string, unknown>;
  /** Extra task keywords (vars, become...). */
  keywords?: Record<string, unknown>;
  /** Shell run (as root, `set -e`) on both hosts before any step. */
  setup?: string;
  /** Shell whose output (stdout+stderr) after the real run must be equal on D and A. */
  expect?: string;
  /** Substrings D's `expect` output must contain (so a scenario cannot pass by doing nothing). */
  contains?: string[];
  /** Expected drover status per step; defaults: check changed, run changed, rerun ok. */
  check?: Status;
  run?: Status;
  rerun?: Status;
  /**
   * ansible-core's check-mode status where drover deliberately differs (say why at the
   * scenario); defaults to drover's.
   */
  ansibleCheck?: Status;
  /** Compare the --diff text with ansible's (default true). */
  diff?: boolean;
  /** A known difference of the --diff text from ansible's: the text is not compared (reason). */
  diffGap?: string;
  /** As diffGap, for the check-mode --diff only. */
  checkDiffGap?: string;
  /** Leave ansible-core out for this scenario, with the reason. */
  noOracle?: string;
  /** More assertions on drover's real-run result. */
  result?: (r: TaskResult) => void;
}

export interface SuiteHosts {
  /** drover's host */
  d: string;
  /** ansible-core's twin */
  a: string;
}

interface StepOut {
  status: Map<string, Status>;
  result: Map<string, TaskResult>;
  diff: Map<string, string>;
  raw: RunResult;
}

const ANSIBLE_QUIET = {
  ANSIBLE_DEPRECATION_WARNINGS: 'False',
  ANSIBLE_ACTION_WARNINGS: 'False',
  ANSIBLE_SYSTEM_WARNINGS: 'False',
  ANSIBLE_LOCALHOST_WARNING: 'False',
  ANSIBLE_FORCE_COLOR: '0',
  NO_COLOR: '1',
};

function statusOf(s: string): Status {
  if (s === 'ignored' || s === 'failed') return 'failed';
  if (s === 'ok' || s === 'changed' || s === 'skipped') return s;
  throw new Error(`unexpected status ${s}`);
}

/**
 * Per task (by name): the status and the text printed before it (the --diff output) in
 * an Ansible-style human log. Works for ansible-playbook's default callback and drover's
 * human formatter alike.
 */
export function parseHuman(
  stdout: string,
  host: string,
): { status: Map<string, Status>; diff: Map<string, string> } {
  const status = new Map<string, Status>();
  const diff = new Map<string, string>();
  const sections = stdout.split(/^TASK \[/m).slice(1);
  for (const sec of sections) {
    const name = sec.slice(0, sec.indexOf(']'));
    const lines = sec.split('\n').slice(1);
    const text: string[] = [];
    for (const line of lines) {
      const m = /^(ok|changed|skipping|fatal|failed): \[([^\]]+)\]/.exec(line);
      if (m && m[2] === host) {
        const s = m[1]!;
        status.set(name, s === 'skipping' ? 'skipped' : s === 'fatal' ? 'failed' : (s as Status));
        break;
      }
      // Warnings are not part of the diff; neither are blank separator lines around it.
      if (/^\[(WARNING|DEPRECATION WARNING)\]/.test(line)) continue;
      text.push(line);
    }
    diff.set(name, text.join('\n').trim());
  }
  return { status, diff };
}

function parseJsonLines(text: string): { status: Map<string, Status>; result: Map<string, TaskResult> } {
  const status = new Map<string, Status>();
  const result = new Map<string, TaskResult>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as {
      type: string;
      task?: { name: string };
      status?: string;
      result?: TaskResult;
    };
    if (e.type !== 'host.result' || !e.task) continue;
    status.set(e.task.name, statusOf(e.status!));
    result.set(e.task.name, e.result!);
  }
  return { status, result };
}

/**
 * What must differ between two hosts and two tools, and nothing else:
 * - the host names (twins are different hosts);
 * - copy/template `content`: Ansible writes it to a controller temp file and names that
 *   file as the "after" header (a random path); drover names no file;
 * - backup file names carry a timestamp;
 * - the controller work dirs (each tool has its own, so fetch/src paths differ);
 * - touch times (file state=touch shows the old and the new atime/mtime).
 */
export function normaliseDiff(text: string, hosts: SuiteHosts, work: string[]): string {
  let t = text;
  for (const w of work) t = t.split(w).join('WORK');
  t = t.replace(/^\+\+\+ after: \/root\/\.ansible\/tmp\/\S+$/gm, '+++ after: <content>');
  t = t.replace(/^\+\+\+ after: dynamically generated$/gm, '+++ after: <content>');
  t = t.replace(/\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~/g, '.BACKUP~');
  t = t.replaceAll(hosts.d, 'HOST').replaceAll(hosts.a, 'HOST');
  // file state=touch: the times before and the time set differ on every run
  t = t.replace(/^([-+ ] {4}"[am]time": )[0-9.e+]+/gm, '$1T');
  return t;
}

function playbook(scenarios: readonly Scenario[]): string {
  return JSON.stringify([
    {
      hosts: 'all',
      gather_facts: false,
      tasks: scenarios.map((s) => ({ name: s.id, [s.module]: s.args, ignore_errors: true, ...s.keywords })),
    },
  ]);
}

async function expectOutputs(fleet: Fleet, host: string, scenarios: readonly Scenario[]) {
  const script = scenarios
    .filter((s) => s.expect)
    .map((s) => `echo "@@@ ${s.id}"; ( ${s.expect} ) 2>&1`)
    .join('\n');
  const r = await runSsh(fleet, host, script, { timeoutMs: 60_000 });
  const out = new Map<string, string>();
  for (const part of r.stdout.split(/^@@@ /m).slice(1)) {
    const nl = part.indexOf('\n');
    out.set(part.slice(0, nl), part.slice(nl + 1).replaceAll(host, 'HOST'));
  }
  return out;
}

export interface SuiteOptions {
  /** Controller-side files (copy src, templates, archives) written into each tool's work dir. */
  controller?: (work: string) => void;
  /** Boot either host again whenever it stops during the steps (the reboot scenario). */
  restartHosts?: boolean;
  /** Called with drover's work dir after its real run and rerun (controller-side checks, e.g. fetch). */
  afterRun?: (work: string) => void;
  timeoutMs?: number;
}

/**
 * Runs the table: resets both hosts, runs every scenario's setup on both, then the steps.
 * Returns drover's real-run results by scenario id.
 */
export async function runScenarios(
  fleet: Fleet,
  hosts: SuiteHosts,
  scenarios: readonly Scenario[],
  opts: SuiteOptions = {},
): Promise<Map<string, TaskResult>> {
  const ids = new Set<string>();
  for (const s of scenarios) {
    expect(ids.has(s.id), `duplicate scenario id ${s.id}`).toBe(false);
    ids.add(s.id);
  }
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const works = [mkdtempSync(join(tmpdir(), 'drover-mod-d-')), mkdtempSync(join(tmpdir(), 'drover-mod-a-'))];
  const [dWork, aWork] = works as [string, string];
  try {
    for (const w of works) {
      writeFileSync(join(w, 'pb.yml'), playbook(scenarios));
      opts.controller?.(w);
    }
    await Promise.all([fleet.resetHost(hosts.d), fleet.resetHost(hosts.a)]);
    const setup = scenarios
      .filter((s) => s.setup)
      .map((s) => `( set -e\n${s.setup}\n) || { echo "setup of ${s.id} failed" >&2; exit 1; }`)
      .join('\n');
    const setups = await Promise.all(
      [hosts.d, hosts.a].map((h) => runSsh(fleet, h, setup, { timeoutMs: 120_000 })),
    );
    for (const [i, r] of setups.entries()) expect(r.code, `setup on host ${i}: ${r.stderr}`).toBe(0);

    const env = { ANSIBLE_CONFIG: fleet.ansibleCfgFile, NO_COLOR: '1' };
    const t0 = Date.now();
    const timing = (what: string) => {
      if (process.env.DROVER_SCENARIO_DEBUG)
        console.log(`${hosts.d}/${hosts.a} ${what} done at ${Date.now() - t0} ms`);
    };
    const drover = async (work: string, extra: string[]): Promise<StepOut> => {
      const jsonl = join(work, `out-${extra.join('')}.jsonl`);
      const raw = await runDrover(
        [
          'playbook',
          '-i',
          fleet.inventoryFile,
          join(work, 'pb.yml'),
          '-l',
          hosts.d,
          '-e',
          `work=${work}`,
          '--output',
          `json:${jsonl}`,
          ...extra,
        ],
        { env, timeoutMs },
      );
      timing(`drover ${extra.join(' ')}`);
      if (!existsSync(jsonl))
        throw new Error(`drover ${extra.join(' ')} wrote no JSON lines (exit ${raw.code}):\n${raw.stderr}`);
      const text = readFileSync(jsonl, 'utf8');
      if (process.env.DROVER_SCENARIO_DEBUG) {
        const slow = text
          .split('\n')
          .filter((l) => l.includes('"host.result"'))
          .map((l) => JSON.parse(l) as { task: { name: string }; durationMs: number })
          .sort((a, b) => b.durationMs - a.durationMs)
          .slice(0, 6)
          .map((e) => `${e.task.name}=${e.durationMs}`);
        console.log(`  slowest: ${slow.join(', ')}`);
      }
      const j = parseJsonLines(text);
      const h = parseHuman(raw.stdout, hosts.d);
      return { ...j, diff: h.diff, raw };
    };
    const ansible = async (work: string, extra: string[]): Promise<StepOut> => {
      const raw = await runAnsiblePlaybook(
        fleet,
        [join(work, 'pb.yml'), '-l', hosts.a, '-e', `work=${work}`, ...extra],
        {
          env: ANSIBLE_QUIET,
          timeoutMs,
        },
      );
      timing(`ansible ${extra.join(' ')}`);
      const h = parseHuman(raw.stdout, hosts.a);
      return { ...h, result: new Map(), raw };
    };

    let watching = opts.restartHosts === true;
    const watcher = (async () => {
      while (watching) {
        for (const h of [hosts.d, hosts.a]) if (!(await fleet.isRunning(h))) await fleet.startHost(h);
        await new Promise((res) => setTimeout(res, 200));
      }
    })();

    const oracle = (async () => {
      const chk = await ansible(aWork, ['--check', '--diff']);
      const run = await ansible(aWork, ['--diff']);
      return { chk, run };
    })();

    let steps: { dChk: StepOut; dRun: StepOut; dRerun: StepOut; aChk: StepOut; aRun: StepOut };
    try {
      const before = await fleet.snapshot(hosts.d);
      const dChk = await drover(dWork, ['--check', '--diff']);
      const after = await fleet.snapshot(hosts.d);
      expect(fleet.diff(before, after), 'check mode wrote to the host').toEqual(fleet.diff(before, before));
      const dRun = await drover(dWork, ['--diff']);
      const dRerun = await drover(dWork, []);
      opts.afterRun?.(dWork);
      const { chk: aChk, run: aRun } = await oracle;
      steps = { dChk, dRun, dRerun, aChk, aRun };
    } finally {
      watching = false;
      await watcher;
      await oracle.catch(() => undefined);
    }
    const { dChk, dRun, dRerun, aChk, aRun } = steps;
    const [dExpect, aExpect] = await Promise.all([
      expectOutputs(fleet, hosts.d, scenarios),
      expectOutputs(fleet, hosts.a, scenarios),
    ]);

    const problems: string[] = [];
    // Every task ignores errors: both tools must end the run the same way (0 here).
    for (const [name, d, a] of [
      ['check', dChk, aChk],
      ['run', dRun, aRun],
    ] as const) {
      if (d.raw.code !== a.raw.code)
        problems.push(
          `${name}: drover exited ${d.raw.code}, ansible-playbook ${a.raw.code}\n${d.raw.stderr}${a.raw.stderr}`,
        );
    }
    const show = (step: StepOut, id: string) => {
      const r = step.result.get(id);
      return r ? ` (${String(r.msg ?? '').slice(0, 300)})` : '';
    };
    for (const s of scenarios) {
      const want = { check: s.check ?? 'changed', run: s.run ?? 'changed', rerun: s.rerun ?? 'ok' };
      const got = {
        check: dChk.status.get(s.id),
        run: dRun.status.get(s.id),
        rerun: dRerun.status.get(s.id),
      };
      if (got.check !== want.check)
        problems.push(`${s.id}: check ${got.check}, want ${want.check}${show(dChk, s.id)}`);
      if (got.run !== want.run) problems.push(`${s.id}: run ${got.run}, want ${want.run}${show(dRun, s.id)}`);
      if (got.rerun !== want.rerun)
        problems.push(`${s.id}: rerun ${got.rerun}, want ${want.rerun}${show(dRerun, s.id)}`);
      if (s.contains) {
        for (const c of s.contains) {
          if (!(dExpect.get(s.id) ?? '').includes(c))
            problems.push(
              `${s.id}: expect output lacks ${JSON.stringify(c)}: ${JSON.stringify(dExpect.get(s.id))}`,
            );
        }
      }
      const r = dRun.result.get(s.id);
      if (s.result && r) {
        try {
          s.result(r);
        } catch (e) {
          problems.push(`${s.id}: result: ${(e as Error).message}`);
        }
      }
      if (s.noOracle) continue;
      if (aChk.status.get(s.id) !== (s.ansibleCheck ?? got.check))
        problems.push(`${s.id}: check: drover ${got.check}, ansible ${aChk.status.get(s.id)}`);
      if (aRun.status.get(s.id) !== got.run)
        problems.push(`${s.id}: run: drover ${got.run}, ansible ${aRun.status.get(s.id)}`);
      if (s.expect && dExpect.get(s.id) !== aExpect.get(s.id))
        problems.push(
          `${s.id}: host state differs:\n  drover:  ${JSON.stringify(dExpect.get(s.id))}\n  ansible: ${JSON.stringify(aExpect.get(s.id))}`,
        );
      if (s.diff !== false && !s.diffGap) {
        for (const [name, d, a] of [
          ['check', dChk, aChk],
          ['run', dRun, aRun],
        ] as const) {
          if (name === 'check' && s.checkDiffGap) continue;
          const dd = normaliseDiff(d.diff.get(s.id) ?? '', hosts, works);
          const ad = normaliseDiff(a.diff.get(s.id) ?? '', hosts, works);
          if (dd !== ad)
            problems.push(`${s.id}: ${name} --diff differs:\n--- drover\n${dd}\n--- ansible\n${ad}`);
        }
      }
    }
    if (problems.length > 0 && process.env.DROVER_SCENARIO_DEBUG) {
      writeFileSync(
        '/tmp/drover-scenarios-debug.txt',
        [dChk, dRun, dRerun, aChk, aRun].map((s) => s.raw.stdout).join('\n=====\n'),
      );
    }
    expect(problems, `${problems.length} scenario problems`).toEqual([]);
    return dRun.result;
  } finally {
    for (const w of works) rmSync(w, { recursive: true, force: true });
  }
}
