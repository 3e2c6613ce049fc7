/**
 * Runs a module's Step chain for real with the local `sh` (no SSH), so planner tests can
 * check both the generated script and what it does to a scratch directory. Remote
 * behaviour over SSH is covered by the e2e suite on the fleet.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateArgs } from '../../../modules/args.js';
import type { AnyModule, ControllerFiles, PlanContext, Step, TaskResult } from '../../../modules/types.js';
import type { RunResult } from '../../../src/transport/types.js';

export function runSh(
  script: string,
  stdin?: Uint8Array | string,
  env?: Record<string, string>,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', script], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      const r: RunResult = {
        rc: code ?? 128,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (signal) r.signal = signal;
      resolve(r);
    });
    p.stdin.on('error', () => {});
    p.stdin.end(stdin ?? '');
  });
}

function isStep(x: Step | TaskResult): x is Step {
  return typeof (x as Step).parse === 'function' && typeof (x as Step).script === 'string';
}

export interface HarnessOptions {
  check?: boolean;
  diff?: boolean;
  facts?: Record<string, unknown>;
  files?: Partial<ControllerFiles>;
  render?: PlanContext['render'];
}

export function makeContext(opts: HarnessOptions = {}): PlanContext {
  const files: ControllerFiles = {
    find: () => undefined,
    read: async () => Buffer.alloc(0),
    walk: async () => [],
    write: async () => {},
    ...opts.files,
  };
  return {
    host: 'localhost',
    check: opts.check ?? false,
    diff: opts.diff ?? false,
    facts: opts.facts ?? {},
    remoteUser: process.env.USER ?? 'root',
    becoming: false,
    remoteTmp: tmpdir(),
    files,
    render: opts.render ?? (async (s) => s),
  };
}

/** Validate args like the runner does, plan, run every step with sh, return the result and the scripts. */
export async function runModule(
  mod: AnyModule,
  rawArgs: Record<string, unknown>,
  opts: HarnessOptions = {},
): Promise<{ result: TaskResult; scripts: string[] }> {
  const v = validateArgs(mod.names[0]!, mod.args, rawArgs);
  if (v.errors.length > 0) return { result: { failed: true, msg: v.errors.join('; ') }, scripts: [] };
  const scripts: string[] = [];
  let next = await mod.plan(v.args, makeContext(opts));
  while (isStep(next)) {
    scripts.push(next.script);
    const r = await runSh(next.script, next.stdin, next.env);
    next = await next.parse(r);
  }
  return { result: next, scripts };
}

/** A scratch directory removed after the test. */
export function scratch(): { dir: string; path: (p: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'drover-mod-'));
  return { dir, path: (p) => join(dir, p), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
