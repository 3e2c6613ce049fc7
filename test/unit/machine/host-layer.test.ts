import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUnder } from '../../../src/machine/processes.js';
import { acquirePidLock } from '../../../src/util/pid-lock.js';
import { freeId, withEntries } from '../../lab/host-layer.js';

describe('fleet user tables', () => {
  it('freeId skips ids used in any table', () => {
    const passwd = 'root:x:0:0::/root:/bin/sh\na:x:2000:2000::/:/bin/sh\nb:x:2001:50::/:/bin/sh\n';
    const group = 'g:x:2002:\n';
    expect(freeId([passwd, group], 2000)).toBe(2003);
    expect(freeId([passwd], 1999)).toBe(1999);
  });

  it('withEntries replaces entries of the same name and keeps the rest', () => {
    const t = 'root:x:0:\ndrover:x:5:\nusers:x:100:\n';
    expect(withEntries(t, ['drover', 'dpw'], ['drover:x:2000:', 'dpw:x:2001:'])).toBe(
      'root:x:0:\nusers:x:100:\ndrover:x:2000:\ndpw:x:2001:\n',
    );
  });
});

describe('isUnder', () => {
  it('matches the dir and below, not siblings with the same prefix', () => {
    expect(isUnder('/a/b', '/a/b')).toBe(true);
    expect(isUnder('/a/b/c', '/a/b/')).toBe(true);
    expect(isUnder('/a/bc', '/a/b')).toBe(false);
  });
});

describe('run lock', () => {
  it('excludes a second holder until released, and takes over from a dead one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-lock-'));
    const file = join(dir, 'lock');
    try {
      const first = await acquirePidLock(file);
      let waitedFor = 0;
      await expect(
        acquirePidLock(file, {
          timeoutMs: 300,
          onWait: (pid) => {
            waitedFor = pid;
          },
        }),
      ).rejects.toThrow(/held by pid/);
      expect(waitedFor).toBe(process.pid);
      await first.release();
      const second = await acquirePidLock(file, { timeoutMs: 300 });
      await second.release();
      // pid 1's start time never matches this bogus one: a dead holder.
      await writeFile(file, '1 0\n');
      const third = await acquirePidLock(file, { timeoutMs: 300 });
      expect((await readFile(file, 'utf8')).split(' ')[0]).toBe(String(process.pid));
      await third.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
