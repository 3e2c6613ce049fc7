import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { MachineError, stopHostDirs } from './host.js';
import { portFree } from './ports.js';
import {
  canonicalPath,
  commandLine,
  isUnder,
  processesMountingUnder,
  processesRootedUnder,
  signal,
  waitFor,
} from './processes.js';
import { findHostDirs, readState } from './state.js';

const run = promisify(execFile);

export interface CleanupReport {
  /** Host dirs that had a state record. */
  hosts: string[];
  killed: number[];
  unmounted: string[];
}

/** Mount points under `dir` in this process's mount namespace, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    // mountinfo escapes space, tab, newline and backslash as octal
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))))
    .filter((p) => isUnder(p, dir));
  return [...new Set(points)].sort(
    (a, b) => b.split('/').length - a.split('/').length || b.length - a.length,
  );
}

/**
 * Ends everything a crashed earlier process left under `dir`: hosts recorded in state
 * files, any process whose root lies under `dir` (sshd's per-connection children live in
 * their own sessions), stray `unshare` launchers naming `dir`; then lazily unmounts what
 * is mounted under `dir`, deepest first, and waits until the recorded ports are free.
 */
export async function cleanupStale(
  dirArg: string,
  opts: { timeoutMs?: number } = {},
): Promise<CleanupReport> {
  const dir = await canonicalPath(dirArg);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const hostDirs = await findHostDirs(dir);
  const ports = new Set<number>();
  for (const h of hostDirs) for (const p of (await readState(h))?.ports ?? []) ports.add(p);

  const killed = new Set<number>();
  await stopHostDirs(hostDirs, { graceMs: 0, timeoutMs });

  const strays = async (): Promise<number[]> => {
    const rooted = await processesRootedUnder([dir]);
    const launchers: number[] = [];
    for (const e of await readdir('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      const cmd = await commandLine(Number(e));
      if (cmd?.[0] === 'unshare' && cmd.some((a) => a.includes(`${dir}/`))) launchers.push(Number(e));
    }
    const mounting = await processesMountingUnder(dir);
    return [...new Set([...rooted, ...launchers, ...mounting])];
  };
  const clean = await waitFor(async () => {
    const left = await strays();
    for (const pid of left) {
      killed.add(pid);
      signal(pid, 'SIGKILL');
    }
    return left.length === 0;
  }, timeoutMs);
  if (!clean) {
    const left = await strays();
    throw new MachineError(
      `processes ${left.join(', ')} under ${dir} survive SIGKILL`,
      'they may be stuck in uninterruptible I/O',
    );
  }

  const unmounted: string[] = [];
  for (const point of await mountsUnder(dir)) {
    try {
      await run('umount', ['-l', point]);
      unmounted.push(point);
    } catch (err) {
      throw new MachineError(
        `could not unmount ${point}: ${(err as Error).message}`,
        `try \`umount -l ${point}\``,
      );
    }
  }
  for (const port of ports) {
    if (!(await waitFor(() => portFree(port), timeoutMs))) {
      throw new MachineError(
        `port 127.0.0.1:${port} (recorded under ${dir}) is still in use`,
        `find the holder with \`ss -ltnp 'sport = :${port}'\``,
      );
    }
  }
  return { hosts: hostDirs, killed: [...killed], unmounted };
}
