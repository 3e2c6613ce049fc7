import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findFreePortRange, portAccepting, portFree } from '../../../src/machine/ports.js';
import { canonicalPath } from '../../../src/machine/processes.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ port, host: '127.0.0.1' }, () => resolve(srv));
  });
}

describe('ports', () => {
  it('sees a listener, and finds a free range around it', async () => {
    const base = await findFreePortRange(3, 22580, 22599);
    const srv = await listen(base + 1);
    try {
      expect(await portFree(base + 1)).toBe(false);
      expect(await portAccepting(base + 1)).toBe(true);
      expect(await portAccepting(base)).toBe(false);
      const next = await findFreePortRange(3, base, 22599);
      expect(next).toBeGreaterThan(base + 1);
      await expect(findFreePortRange(2, base + 1, base + 2)).rejects.toThrow(/no 2 consecutive free ports/);
    } finally {
      await new Promise((r) => srv.close(r));
    }
    expect(await portFree(base + 1)).toBe(true);
  });
});

describe('canonicalPath', () => {
  it('resolves symlinks in the existing part and keeps the missing rest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-canon-'));
    try {
      await mkdir(join(dir, 'real'));
      await symlink(join(dir, 'real'), join(dir, 'link'));
      const real = await canonicalPath(join(dir, 'real'));
      expect(await canonicalPath(join(dir, 'link'))).toBe(real);
      expect(await canonicalPath(join(dir, 'link', 'not', 'yet'))).toBe(join(real, 'not', 'yet'));
      expect(await canonicalPath('relative/x')).toBe(join(process.cwd(), 'relative', 'x'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
