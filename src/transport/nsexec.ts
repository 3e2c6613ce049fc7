/**
 * A connection that execs inside a namespaced host (src/machine) without sshd: each run is
 * `nsenter --target PID --mount --uts --pid --root --wd /bin/sh -c SCRIPT`, so the script
 * sees the host's root, hostname and processes. Image builds use it by default (no sshd in
 * the image, nothing to configure); scripts, become and file transfer (temp file + mv, so
 * atomic) are the local transport's, run through the host's own `/bin/sh`.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { dirname } from 'node:path';
import { envAssignments, quote } from '../shell/quote.js';
import { LocalConnection } from './local.js';

export interface NsexecOptions {
  /** Inventory name of the host. */
  host: string;
  /** PID 1 of the host as seen from the machine (HostHandle.pid). */
  pid: number;
  /** Where the small launcher script is written (inside the build directory). */
  launcherPath: string;
  /** The environment scripts start with; the controller's own is never passed in. */
  env?: Record<string, string>;
}

const DEFAULT_ENV: Record<string, string> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  TERM: 'dumb',
};

/** The launcher: a `sh`-compatible wrapper that the local transport runs as its shell. */
export function nsexecLauncher(pid: number, env: Record<string, string> = DEFAULT_ENV): string {
  const assignments = Object.entries(env)
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(' ');
  // env -i: controller variables (DROVER_VAR_*, tokens) never reach the instance.
  return `#!/bin/sh\nexec env -i ${assignments} nsenter --target ${pid} --mount --uts --pid --root --wd -- /bin/sh "$@"\n`;
}

export class NsexecConnection extends LocalConnection {
  private constructor(
    host: string,
    readonly launcher: string,
  ) {
    super(host, launcher);
  }

  static async create(opts: NsexecOptions): Promise<NsexecConnection> {
    await mkdir(dirname(opts.launcherPath), { recursive: true });
    await writeFile(opts.launcherPath, nsexecLauncher(opts.pid, { ...DEFAULT_ENV, ...opts.env }));
    await chmod(opts.launcherPath, 0o755);
    return new NsexecConnection(opts.host, opts.launcherPath);
  }
}

export interface StreamOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  onOutput: (text: string, stream: 'stdout' | 'stderr') => void;
}

export interface StreamResult {
  rc: number;
  signal?: string;
  timedOut?: boolean;
}

/**
 * Runs a script in the host with its output delivered as it comes (build logs stream
 * each step's output live, as Packer does). The process group is killed on timeout or abort.
 */
export function streamScript(
  conn: NsexecConnection,
  script: string,
  opts: StreamOptions,
): Promise<StreamResult> {
  const prefix = opts.env ? `${envAssignments(opts.env)} ` : '';
  const body = prefix ? `export ${prefix}\n${script}` : script;
  return new Promise((resolve, reject) => {
    const child = spawn(conn.launcher, ['-c', body], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let timedOut = false;
    const kill = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    };
    const timer =
      opts.timeoutMs && opts.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            kill();
          }, opts.timeoutMs)
        : undefined;
    const onAbort = (): void => kill();
    opts.signal?.addEventListener('abort', onAbort);
    child.stdout.setEncoding('utf8').on('data', (s: string) => opts.onOutput(s, 'stdout'));
    child.stderr.setEncoding('utf8').on('data', (s: string) => opts.onOutput(s, 'stderr'));
    child.on('error', reject);
    child.on('close', (code, sig) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      const r: StreamResult = {
        rc: timedOut ? 124 : (code ?? 128 + (sig ? (osConstants.signals[sig] ?? 0) : 0)),
      };
      if (sig) r.signal = sig.replace(/^SIG/, '');
      if (timedOut) r.timedOut = true;
      resolve(r);
    });
  });
}
