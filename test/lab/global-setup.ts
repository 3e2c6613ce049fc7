import { readFileSync, readlinkSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { cleanupStale } from '../../src/machine/cleanup.js';
import { MachineError } from '../../src/machine/host.js';
import { isUnder } from '../../src/machine/processes.js';
import { statePath } from '../../src/machine/state.js';
import { acquirePidLock } from '../../src/util/pid-lock.js';
import { type Fleet, LAB_DIR_ENV, openFleet, startFleet } from './fleet.js';
import { repoRoot } from './repo-root.js';

declare module 'vitest' {
  export interface ProvidedContext {
    droverLabDir: string;
  }
}

/** Set to a running fleet's dir to run the e2e tests on it instead of booting one. */
export const LAB_REUSE_ENV = 'DROVER_LAB_REUSE';

export const E2E_BASE_PORT = 22200;
export const E2E_HOSTS = 20;

/**
 * Boots the shared e2e fleet once per vitest run. A crashed earlier run is cleaned up first
 * (startFleet does that for its dir), and the fleet is stopped at the end, also when tests fail.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const reuse = process.env[LAB_REUSE_ENV];
  if (reuse) {
    // A fleet booted by hand (`npm run lab -- up 20 --dir D`): used as is, left running.
    const fleet = await openFleet(reuse);
    const down: string[] = [];
    for (const h of fleet.hosts) if (!(await fleet.isRunning(h.name))) down.push(h.name);
    if (down.length > 0) {
      throw new MachineError(
        `${LAB_REUSE_ENV}=${reuse}: hosts ${down.join(', ')} are not running`,
        'run `npm run lab -- up N --dir ' + reuse + '` again',
      );
    }
    process.env[LAB_DIR_ENV] = fleet.dir;
    project.provide('droverLabDir', fleet.dir);
    return async () => undefined;
  }
  const dir = join(repoRoot(), '.lab', 'e2e');
  await mkdir(dirname(dir), { recursive: true });
  const lock = await acquirePidLock(`${dir}.lock`, {
    onWait: (pid) => console.log(`lab: waiting for the e2e fleet, in use by another test run (pid ${pid})`),
  });
  let fleet: Fleet;
  const t0 = performance.now();
  try {
    fleet = await startFleet({ count: E2E_HOSTS, dir, basePort: E2E_BASE_PORT, prefix: 'h' });
    console.log(`lab: ${E2E_HOSTS} hosts up in ${Math.round(performance.now() - t0)} ms (${dir})`);
  } catch (err) {
    await lock.release();
    throw err;
  }
  process.env[LAB_DIR_ENV] = fleet.dir;
  project.provide('droverLabDir', fleet.dir);

  // If vitest exits without running teardown, SIGKILL of each host's PID 1 still ends its
  // whole namespace. Read at exit (tests restart hosts), synchronously (an exit hook cannot
  // wait), and only pids whose root is inside the host (never a recycled pid).
  const onExit = (): void => {
    for (const h of fleet.hosts) {
      try {
        const state = JSON.parse(readFileSync(statePath(h.hostDir), 'utf8')) as { pid?: unknown };
        if (typeof state.pid !== 'number' || state.pid <= 0) continue;
        if (!isUnder(readlinkSync(`/proc/${state.pid}/root`), h.hostDir)) continue;
        process.kill(state.pid, 'SIGKILL');
      } catch {
        // no record, or already gone
      }
    }
    lock.releaseSync();
  };
  process.once('exit', onExit);

  return async () => {
    process.off('exit', onExit);
    try {
      await fleet.stop();
      await cleanupStale(dir);
    } finally {
      await lock.release();
    }
  };
}
