import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** True when `path` is `dir` itself or lies below it (both absolute, normalised). */
export function isUnder(path: string, dir: string): boolean {
  const d = dir.endsWith('/') ? dir.slice(0, -1) : dir;
  return path === d || path.startsWith(`${d}/`);
}

/**
 * Pids of processes whose root directory lies under one of `dirs`. A namespaced host's
 * processes are chrooted into its merged root, and sshd's per-connection children start
 * their own sessions, so the root link (not the process tree or session) is what finds
 * every one of them.
 */
export async function processesRootedUnder(dirs: readonly string[]): Promise<number[]> {
  const entries = await readdir('/proc');
  const self = process.pid;
  const found: number[] = [];
  await Promise.all(
    entries.map(async (e) => {
      if (!/^\d+$/.test(e)) return;
      const pid = Number(e);
      if (pid === self) return;
      let root: string;
      try {
        root = await readlink(`/proc/${pid}/root`);
      } catch {
        return; // gone meanwhile, or a kernel thread
      }
      if (root !== '/' && dirs.some((d) => isUnder(root, d))) found.push(pid);
    }),
  );
  return found.sort((a, b) => a - b);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a pid, or undefined when it is gone. */
export async function commandLine(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((s) => s !== '');
  } catch {
    return undefined;
  }
}

/** Children of a pid (needs CONFIG_PROC_CHILDREN, present on every distro kernel). */
export async function childrenOf(pid: number): Promise<number[]> {
  try {
    const raw = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return raw
      .trim()
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** A zombie counts as dead: its mounts and ports are already released. */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  stepMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
}

/**
 * Absolute path with symlinks resolved as far as it exists: `/proc/PID/root` links show
 * real paths, so a dir given through a symlink would otherwise never match them.
 */
export async function canonicalPath(p: string): Promise<string> {
  const abs = resolve(p);
  try {
    return await realpath(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(await canonicalPath(parent), basename(abs));
  }
}

/**
 * A mount as the same mount in another namespace shows it: mountinfo's line without the
 * mount and parent ids and the propagation tags, which a copied namespace renumbers.
 */
function mountKey(line: string): string {
  const sep = line.indexOf(' - ');
  const f = (sep < 0 ? line : line.slice(0, sep)).split(' ');
  return `${f.slice(2, 6).join(' ')} -${sep < 0 ? '' : line.slice(sep + 2)}`;
}

/**
 * Pids in other mount namespaces with a mount of their own under `dir` (a mount point, or an
 * overlay upperdir there). This catches a host caught mid-boot, before its chroot, which the
 * root-link scan cannot see; a namespace is read once however many processes share it.
 *
 * A namespace made by `unshare -m` starts as a copy of this one: mounts this namespace has
 * under `dir` (a test's tmpfs, a launcher that mounted here) show up in every namespace
 * created while they existed, other fleets' hosts included. Those copies are not evidence:
 * only a mount this namespace does not have counts.
 */
export async function processesMountingUnder(dirArg: string | readonly string[]): Promise<number[]> {
  const dirs = await Promise.all((typeof dirArg === 'string' ? [dirArg] : dirArg).map(canonicalPath));
  let own = '';
  let ownMounts: Set<string>;
  try {
    own = await readlink('/proc/self/ns/mnt');
    ownMounts = new Set((await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map(mountKey));
  } catch {
    return [];
  }
  const mentions = (line: string): boolean =>
    dirs.some((dir) => line.includes(`${dir}/`) || line.includes(` ${dir} `));
  const verdict = new Map<string, boolean>();
  const found: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    let ns: string;
    try {
      ns = await readlink(`/proc/${pid}/ns/mnt`);
    } catch {
      continue;
    }
    if (ns === own) continue;
    let hit = verdict.get(ns);
    if (hit === undefined) {
      try {
        const info = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
        hit = info.split('\n').some((line) => mentions(line) && !ownMounts.has(mountKey(line)));
      } catch {
        continue;
      }
      verdict.set(ns, hit);
    }
    if (hit) found.push(pid);
  }
  return found;
}
