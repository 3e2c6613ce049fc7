import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffSnapshots, digestOf, snapshotDir } from '../../lab/digest.js';

describe('upper dir digest', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drover-digest-'));
    await mkdir(join(dir, 'var', 'log'), { recursive: true });
    await writeFile(join(dir, 'var', 'log', 'wtmp'), '');
    await writeFile(join(dir, 'f'), 'one');
    await symlink('f', join(dir, 'l'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const digest = async (): Promise<string> => digestOf(await snapshotDir(dir));

  it('ignores login bookkeeping and mtimes, sees content, mode, links and deletions', async () => {
    const d0 = await digest();
    await writeFile(join(dir, 'var', 'log', 'wtmp'), 'login record');
    expect(await digest()).toBe(d0);
    await writeFile(join(dir, 'f'), 'one'); // same content, new mtime
    expect(await digest()).toBe(d0);

    await writeFile(join(dir, 'f'), 'two');
    const d1 = await digest();
    expect(d1).not.toBe(d0);
    await chmod(join(dir, 'f'), 0o600);
    const d2 = await digest();
    expect(d2).not.toBe(d1);
    const before = await snapshotDir(dir);
    await unlink(join(dir, 'l'));
    await symlink('g', join(dir, 'l'));
    expect(diffSnapshots(before, await snapshotDir(dir))).toEqual({ added: [], removed: [], changed: ['l'] });
    await unlink(join(dir, 'l'));
    expect(diffSnapshots(before, await snapshotDir(dir)).removed).toEqual(['l']);
  });

  it('with a lower dir, leaves out directories that are mere copy-ups, keeps opaque ones', async () => {
    const lower = await mkdtemp(join(tmpdir(), 'drover-lower-'));
    const upper = await mkdtemp(join(tmpdir(), 'drover-upper-'));
    try {
      for (const d of ['same', 'moded', 'opaque']) {
        await mkdir(join(lower, d), { mode: 0o755 });
        await mkdir(join(upper, d), { mode: 0o755 });
        await chmod(join(lower, d), 0o755);
        await chmod(join(upper, d), 0o755);
      }
      await chmod(join(upper, 'moded'), 0o700);
      await mkdir(join(upper, 'new'));
      const py = spawnSync('python3', [
        '-c',
        `import os; os.setxattr(${JSON.stringify(join(upper, 'opaque'))}, 'trusted.overlay.opaque', b'y')`,
      ]);
      expect(py.status, py.stderr.toString()).toBe(0);
      const keys = [...(await snapshotDir(upper, [], lower)).keys()].sort();
      expect(keys).toEqual(['.', 'moded', 'new', 'opaque']);
    } finally {
      await rm(lower, { recursive: true, force: true });
      await rm(upper, { recursive: true, force: true });
    }
  });

  it('takes extra exclusions', async () => {
    const base = digestOf(await snapshotDir(dir, ['var']));
    await writeFile(join(dir, 'var', 'other'), 'x');
    expect(digestOf(await snapshotDir(dir, ['var']))).toBe(base);
    expect(digestOf(await snapshotDir(dir))).not.toBe(base);
  });
});
