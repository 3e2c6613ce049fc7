import type { Dirent } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A bind mount from the machine into a host (target is a path inside the host). */
export interface BindMount {
  source: string;
  target: string;
  readOnly?: boolean;
}

/** What to boot: generic enough for the test fleet, image builds and the infra `machine` provider. */
export interface HostSpec {
  /** Short name used in messages. */
  name: string;
  /** Holds the host's `upper/`, `work/`, `root/` (mount point), `host.json` and `console.log`. */
  hostDir: string;
  /** Overlay lower layers, top-most first. Default `['/']`: the machine's root filesystem. */
  lowerDirs?: string[];
  /** Hostname inside the host's UTS namespace. Default: `name`. */
  hostname?: string;
  /** Command run chrooted in the host as PID 1 of its own PID namespace. */
  command: string[];
  binds?: BindMount[];
  /**
   * `machine` (default): the machine's /dev, rbound. `minimal`: a tmpfs /dev holding only
   * null, zero, full, random, urandom, tty, pts and shm (a foreign rootfs, e.g. an image build).
   */
  dev?: 'machine' | 'minimal';
  /** Paths inside the host covered by an empty read-only tmpfs (e.g. the dir holding the hosts' own layers). */
  hide?: string[];
  /** TCP ports on 127.0.0.1 the command listens on: boot waits until they accept, stop until they are free. */
  ports?: number[];
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

/** The record on disk that lets a later process find and clean up a host after a crash. */
export interface HostState {
  version: 1;
  name: string;
  hostDir: string;
  rootDir: string;
  upperDir: string;
  workDir: string;
  /** The `unshare` process on the machine side. */
  launcherPid: number;
  /** The host's PID 1 as seen from the machine (0 until known). */
  pid: number;
  ports: number[];
  startedAt: string;
  spec: HostSpec;
}

export const STATE_FILE = 'host.json';

export function statePath(hostDir: string): string {
  return join(hostDir, STATE_FILE);
}

export async function readState(hostDir: string): Promise<HostState | undefined> {
  let raw: string;
  try {
    raw = await readFile(statePath(hostDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed === 'object' && parsed !== null && (parsed as { version?: unknown }).version === 1) {
      return parsed as HostState;
    }
  } catch {
    // a torn write from a crash: treat as absent, the /proc scan still finds the processes
  }
  return undefined;
}

export async function writeState(state: HostState): Promise<void> {
  const tmp = `${statePath(state.hostDir)}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, statePath(state.hostDir));
}

export async function removeState(hostDir: string): Promise<void> {
  await rm(statePath(hostDir), { force: true });
}

const LAYER_DIRS = new Set(['upper', 'work', 'root']);

/** Host dirs (those holding a `host.json`) under `dir`, without descending into layers. */
export async function findHostDirs(dir: string, depth = 4): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  if (entries.some((e) => e.name === STATE_FILE && e.isFile())) return [dir];
  if (depth === 0) return [];
  const nested = await Promise.all(
    entries
      .filter((e) => e.isDirectory() && !LAYER_DIRS.has(e.name))
      .map((e) => findHostDirs(join(dir, e.name), depth - 1)),
  );
  return nested.flat();
}
