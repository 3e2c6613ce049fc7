/**
 * The local backend: state in a JSON file beside the config (`drover.tfstate.json`), written
 * atomically (temp file, fsync, rename, fsync of the directory) with the previous version kept
 * as `.backup`. The lock is a file created with O_EXCL holding the owner (who, when, operation,
 * id, pid); a lock whose process is gone on this host is taken over, since a killed apply
 * cannot release it (Terraform's flock is released by the kernel for the same reason).
 */
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { type Backend, type LockInfo, StateLockedError } from '../backend.js';

export interface LocalBackendOptions {
  /** State file path (absolute, or relative to the infra directory). */
  path: string;
}

interface LocalLock extends LockInfo {
  pid: number;
  host: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  }
}

function writeDurable(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function createLocalBackend(dir: string, opts: Partial<LocalBackendOptions> = {}): Backend {
  const path = resolve(dir, opts.path ?? 'drover.tfstate.json');
  const lockPath = `${path}.lock`;
  const backupPath = `${path}.backup`;
  const readLock = (): LocalLock | undefined => {
    try {
      return JSON.parse(readFileSync(lockPath, 'utf8')) as LocalLock;
    } catch {
      return undefined;
    }
  };
  /** Removes a lock whose holder died on this host; a mkdir mutex stops two takers racing. */
  const takeOverStale = (seen: LocalLock): boolean => {
    if (seen.host !== hostname() || alive(seen.pid)) return false;
    const mutex = `${lockPath}.takeover`;
    try {
      mkdirSync(mutex);
    } catch {
      try {
        if (Date.now() - statSync(mutex).mtimeMs > 10_000) rmdirSync(mutex);
      } catch {}
      return false;
    }
    try {
      const now = readLock();
      if (now?.id === seen.id) unlinkSync(lockPath);
      return true;
    } catch {
      return false;
    } finally {
      rmdirSync(mutex);
    }
  };
  return {
    description: `local state file ${path}`,
    async init() {
      mkdirSync(dirname(path), { recursive: true });
    },
    async read() {
      try {
        return readFileSync(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    async write(json) {
      mkdirSync(dirname(path), { recursive: true });
      if (existsSync(path)) {
        // The backup is a hard link to the previous version: replacing `path` leaves it intact.
        const tmpBackup = `${backupPath}.tmp-${process.pid}`;
        try {
          unlinkSync(tmpBackup);
        } catch {}
        linkSync(path, tmpBackup);
        renameSync(tmpBackup, backupPath);
      }
      writeDurable(path, json);
      fsyncDir(dirname(path));
    },
    async lock(info, timeoutMs) {
      mkdirSync(dirname(path), { recursive: true });
      const lock: LocalLock = { ...info, id: randomUUID(), path, pid: process.pid, host: hostname() };
      const deadline = Date.now() + Math.max(0, timeoutMs);
      for (;;) {
        try {
          const fd = openSync(lockPath, 'wx', 0o600);
          try {
            writeSync(fd, `${JSON.stringify(lock, null, 2)}\n`);
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
          return lock.id;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        const holder = readLock();
        if (holder && takeOverStale(holder)) continue;
        if (Date.now() >= deadline) {
          throw new StateLockedError(
            `the state is locked (${path})`,
            holder ? stripLocal(holder) : undefined,
          );
        }
        await sleep(Math.min(200, Math.max(10, deadline - Date.now())));
      }
    },
    async unlock(id) {
      const holder = readLock();
      if (holder?.id === id) unlinkSync(lockPath);
    },
    async lockInfo() {
      const l = readLock();
      return l ? stripLocal(l) : undefined;
    },
    async forceUnlock(id) {
      const holder = readLock();
      if (!holder) throw new Error(`no lock is held on ${path}`);
      if (holder.id !== id) throw new Error(`the lock id is ${holder.id}, not ${id}`);
      unlinkSync(lockPath);
    },
    async close() {},
  };
}

function stripLocal(l: LocalLock): LockInfo {
  return {
    id: l.id,
    operation: l.operation,
    who: l.who,
    created: l.created,
    version: l.version,
    path: l.path,
  };
}
