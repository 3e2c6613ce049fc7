import { readFileSync, rmSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * An exclusive lock held by a live process, recorded as "pid starttime" in a file (created
 * with O_EXCL, so two takers never both win). A lock whose holder died (even by kill -9) is
 * taken over; a recycled pid has another start time, so it does not count as the holder.
 * Used by the e2e fleet (a second test run waits for the first instead of tearing its fleet
 * down) and by image builds (two builds in one build dir would clean up each other).
 */

export class LockHeldError extends Error {
  constructor(
    readonly file: string,
    readonly holder: number,
  ) {
    super(`${file} is held by pid ${holder}`);
    this.name = 'LockHeldError';
  }
}

async function startTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

async function holderAlive(file: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const [pidText, start] = text.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const now = await startTime(pid);
  return now !== undefined && now === start ? pid : undefined;
}

export interface PidLock {
  release(): Promise<void>;
  /** For exit hooks, which cannot wait. */
  releaseSync(): void;
}

/**
 * Takes the lock, waiting up to `timeoutMs` (default 15 min; 0 = do not wait) for a live
 * holder; throws LockHeldError naming it after that.
 */
export async function acquirePidLock(
  file: string,
  opts: { timeoutMs?: number; onWait?: (holder: number) => void } = {},
): Promise<PidLock> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15 * 60_000);
  const me = `${process.pid} ${await startTime(process.pid)}\n`;
  let told = false;
  for (;;) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(me);
      await fh.close();
      return {
        release: async () => {
          if ((await readFile(file, 'utf8').catch(() => '')) === me) await rm(file, { force: true });
        },
        releaseSync: () => {
          try {
            if (readFileSync(file, 'utf8') === me) rmSync(file, { force: true });
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await holderAlive(file);
    if (holder === undefined) {
      // Dead holder: take over. A racing taker loses at open('wx') above.
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() >= deadline) throw new LockHeldError(file, holder);
    if (!told) {
      opts.onWait?.(holder);
      told = true;
    }
    await sleep(250);
  }
}
