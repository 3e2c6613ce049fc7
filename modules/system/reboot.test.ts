import { describe, expect, it } from 'vitest';
import type { Connection, RunResult } from '../../src/transport/types.js';
import { awaitReboot } from './reboot.js';

/** A host that answers the old boot id twice, is down for two connects, then is back. */
function fakeHost(testRc = 0) {
  const log: string[] = [];
  let connects = 0;
  let clock = 0;
  const conn = (boot: string): Connection =>
    ({
      async run(script: string): Promise<RunResult> {
        log.push(`run ${script}`);
        if (script === 'cat /proc/sys/kernel/random/boot_id')
          return { rc: 0, stdout: `${boot}\n`, stderr: '' };
        return { rc: testRc, stdout: '', stderr: '' };
      },
    }) as unknown as Connection;
  return {
    log,
    ports: {
      async connect() {
        connects++;
        log.push(`connect ${connects}`);
        if (connects <= 2) return conn('old');
        if (connects <= 4) throw new Error('connection refused');
        return conn('new');
      },
      async drop() {
        log.push('drop');
      },
      sleep: async (ms: number) => {
        clock += ms;
      },
      now: () => clock,
    },
  };
}

const result = {
  changed: true,
  rebooted: true,
  elapsed: 0,
  boot_id_before: 'old',
  post_reboot: {
    delay: 0,
    timeout: 60,
    test_command: 'whoami',
    boot_time_command: 'cat /proc/sys/kernel/random/boot_id',
  },
};

describe('awaitReboot (the runner half of reboot)', () => {
  it('drops the connection, waits for a new boot id through failed connects, then runs test_command', async () => {
    const h = fakeHost();
    const r = await awaitReboot(result, h.ports);
    expect(r).toEqual({ changed: true, rebooted: true, elapsed: expect.any(Number) });
    expect(h.log[0]).toBe('drop');
    expect(h.log.filter((l) => l === 'drop').length).toBe(3); // first, then after each refused connect
    expect(h.log.slice(-2)).toEqual(['run cat /proc/sys/kernel/random/boot_id', 'run whoami']);
  });

  it('times out naming the phase, as Ansible', async () => {
    const h = fakeHost(1);
    const r = await awaitReboot(result, h.ports);
    expect(r).toMatchObject({
      failed: true,
      msg: 'Timed out waiting for post-reboot test command (timeout=60)',
    });
  });
});
