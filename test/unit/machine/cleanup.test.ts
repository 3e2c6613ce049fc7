import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupStale, mountsUnder } from '../../../src/machine/cleanup.js';
import { canonicalPath } from '../../../src/machine/processes.js';

const asRoot = process.getuid?.() === 0;

describe.skipIf(!asRoot)('cleanupStale', () => {
  it('lazily unmounts what is mounted under the dir here, deepest first', async () => {
    const base = await canonicalPath(await mkdtemp(join(tmpdir(), 'drover-cleanup-')));
    const outer = join(base, 'a');
    const inner = join(outer, 'b c');
    try {
      await mkdir(outer);
      // Mounts in this (the machine's) namespace: what a launcher without its own namespace would leave.
      execFileSync('mount', ['-t', 'tmpfs', 'drover-test-outer', outer]);
      await mkdir(inner);
      execFileSync('mount', ['-t', 'tmpfs', 'drover-test-inner', inner]);
      expect(await mountsUnder(base)).toEqual([inner, outer]);

      const report = await cleanupStale(base);
      expect(report.unmounted).toEqual([inner, outer]);
      expect(await mountsUnder(base)).toEqual([]);
    } finally {
      for (const m of await mountsUnder(base)) execFileSync('umount', ['-l', m]);
      await rm(base, { recursive: true, force: true });
    }
  });

  it('is a no-op on a dir that does not exist', async () => {
    const report = await cleanupStale(join(tmpdir(), 'drover-no-such-dir', 'x'));
    expect(report).toEqual({ hosts: [], killed: [], unmounted: [] });
  });
});
