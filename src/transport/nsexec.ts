/**
 * A connection that execs inside a namespaced host (src/machine) without sshd: each run is
 * `nsenter --target PID --mount --uts --pid --root --wd /bin/sh -c SCRIPT`, so the script
 * sees the host's root, hostname and processes. Image builds use it by default (no sshd in
 * the image, nothing to configure); scripts, become and file transfer (temp file + mv, so
 * atomic) are the local transport's, run through the host's own `/bin/sh`.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { quote } from '../shell/quote.js';
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
  private constructor(host: string, launcher: string) {
    super(host, launcher);
  }

  static async create(opts: NsexecOptions): Promise<NsexecConnection> {
    await mkdir(dirname(opts.launcherPath), { recursive: true });
    await writeFile(opts.launcherPath, nsexecLauncher(opts.pid, { ...DEFAULT_ENV, ...opts.env }));
    await chmod(opts.launcherPath, 0o755);
    return new NsexecConnection(opts.host, opts.launcherPath);
  }
}
