import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { inject } from 'vitest';
import { type Fleet, LAB_DIR_ENV, openFleet } from './fleet.js';

export { LAB_DIR_ENV };

import { repoRoot } from './repo-root.js';

let cached: Promise<Fleet> | undefined;

/** The shared e2e fleet booted by test/lab/global-setup.ts. */
export function useFleet(): Promise<Fleet> {
  if (!cached) {
    let dir: string | undefined;
    try {
      dir = inject('droverLabDir');
    } catch {
      // outside a vitest worker
    }
    dir ??= process.env[LAB_DIR_ENV];
    if (!dir) {
      return Promise.reject(
        new Error(
          `no lab fleet: run this under the vitest e2e project (its globalSetup boots one) or set ${LAB_DIR_ENV}`,
        ),
      );
    }
    cached = openFleet(dir);
  }
  return cached;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

/** Runs a command to completion, capturing its output (never throws on a non-zero exit). */
export function runCommand(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? repoRoot(),
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer =
      opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    // A command may exit without reading its input (ssh to a stopped host): not an error here.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs the built drover CLI (`node dist/cli/drover.js ARGS`). Run `npm run build` first. */
export function runDrover(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runCommand(process.execPath, [join(repoRoot(), 'dist', 'cli', 'drover.js'), ...args], opts);
}

/** Runs ansible-playbook against the fleet with the fleet's own ansible.cfg (the oracle). */
export function runAnsiblePlaybook(
  fleet: Fleet,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  return runCommand('ansible-playbook', ['-i', fleet.inventoryFile, ...args], {
    ...opts,
    env: { ANSIBLE_CONFIG: fleet.ansibleCfgFile, ANSIBLE_NOCOLOR: '1', ...opts.env },
  });
}

/** Runs a command on a fleet host with the real OpenSSH client. */
export function runSsh(
  fleet: Fleet,
  host: string,
  command: string,
  opts: RunOptions & { user?: string } = {},
): Promise<RunResult> {
  return runCommand('ssh', fleet.sshArgs(host, opts.user ?? 'root', [command]), opts);
}
