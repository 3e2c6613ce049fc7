import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupStale, mountsUnder } from '../../../src/machine/cleanup.js';
import { canonicalPath, isAlive, processesMountingUnder, waitFor } from '../../../src/machine/processes.js';

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

  it("spares other namespaces that only hold a copy of this namespace's mounts under the dir", async () => {
    const base = await canonicalPath(await mkdtemp(join(tmpdir(), 'drover-cleanup-ns-')));
    const here = join(base, 'here');
    const own = join(base, 'own');
    const children: ChildProcess[] = [];
    try {
      await mkdir(here);
      await mkdir(own);
      execFileSync('mount', ['-t', 'tmpfs', 'drover-test-here', here]);
      // Another fleet's host, started while that mount existed: its namespace has a copy.
      const bystander = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '60'], {
        stdio: 'ignore',
      });
      // A host mid-boot under the dir: a mount of its own there.
      const booting = spawn(
        'unshare',
        [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          `mount -t tmpfs drover-test-own ${own} && exec sleep 60`,
        ],
        { stdio: 'ignore' },
      );
      children.push(bystander, booting);
      const ownMounted = async (pid: number): Promise<boolean> => {
        try {
          return (await readFile(`/proc/${pid}/mountinfo`, 'utf8')).includes(` ${own} `);
        } catch {
          return false;
        }
      };
      expect(await waitFor(() => ownMounted(booting.pid!), 5000)).toBe(true);
      const found = await processesMountingUnder(base);
      expect(found).toContain(booting.pid);
      expect(found).not.toContain(bystander.pid);

      const report = await cleanupStale(base);
      expect(report.killed).toContain(booting.pid);
      expect(report.killed).not.toContain(bystander.pid);
      expect(isAlive(bystander.pid!)).toBe(true);
    } finally {
      for (const c of children) c.kill('SIGKILL');
      for (const m of await mountsUnder(base)) execFileSync('umount', ['-l', m]);
      await rm(base, { recursive: true, force: true });
    }
  });

  it('is a no-op on a dir that does not exist', async () => {
    const report = await cleanupStale(join(tmpdir(), 'drover-no-such-dir', 'x'));
    expect(report).toEqual({ hosts: [], killed: [], unmounted: [] });
  });
});
