/**
 * The executable runs the bundle with its code cache (ADR 121). Every other e2e test runs
 * drover through it, so this file checks only what they cannot see: that the build made a
 * cache V8 accepts, that the modules path gives the same answers, and that a cache which
 * does not fit is rejected rather than trusted.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CACHE_TRAILER, loadBundle } from '../../cli/bundle-loader.js';
import { repoRoot } from '../lab/repo-root.js';
import { runDrover } from '../lab/use-fleet.js';

const bin = join(repoRoot(), 'dist', 'bin');
const tmp = mkdtempSync(join(tmpdir(), 'drover-launcher-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const startLine = (stderr: string): string | undefined =>
  stderr.split('\n').find((l) => l.startsWith('drover start:'));

describe('drover executable', () => {
  it('runs the bundle with the code cache the build made', async () => {
    const r = await runDrover(['--version'], { env: { DROVER_DEBUG_START: '1' } });
    expect(r.code).toBe(0);
    expect(startLine(r.stderr)).toBe('drover start: bundle, code cache accepted');
    const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('the bundle and the modules give the same answers, errors and exit codes', async () => {
    const inv = join(tmp, 'inv.ini');
    writeFileSync(inv, '[web]\nw1 a=1\nw2\n[db]\nd1\n');
    const bad = join(tmp, 'bad.yml');
    writeFileSync(bad, '- hosts: all\n  tasks:\n    - debug: msg="{{ x | nosuchfilter }}"\n');
    for (const args of [
      ['inventory', '-i', inv, '--list'],
      ['playbook', '-i', inv, bad],
      ['playbook', '--no-such-flag'],
    ]) {
      const bundled = await runDrover(args, { env: { DROVER_DEBUG_START: '1' } });
      const modules = await runDrover(args, { env: { DROVER_DEBUG_START: '1', DROVER_NO_BUNDLE: '1' } });
      expect(startLine(bundled.stderr)).toMatch(/^drover start: bundle/);
      expect(startLine(modules.stderr)).toBe('drover start: modules');
      expect(bundled.code).toBe(modules.code);
      expect(bundled.stdout).toBe(modules.stdout);
      const rest = (s: string): string => s.replace(/^drover start:.*\n/m, '');
      expect(rest(bundled.stderr)).toBe(rest(modules.stderr));
    }
  });

  it('a cache that does not fit the bundle is rejected, not used', () => {
    const source = readFileSync(join(bin, 'drover.cjs'), 'utf8');
    const name = source.slice(source.lastIndexOf(CACHE_TRAILER) + CACHE_TRAILER.length).trim();
    expect(readdirSync(bin)).toContain(name);

    // The real cache under a bundle one byte longer: V8 refuses it.
    const dir = mkdtempSync(join(tmp, 'b-'));
    writeFileSync(join(dir, 'drover.cjs'), source.replace(CACHE_TRAILER, `\n;${CACHE_TRAILER}`));
    copyFileSync(join(bin, name), join(dir, name));
    const shifted = loadBundle(join(dir, 'drover.cjs'));
    expect(shifted?.cache).toBe('rejected');
    expect(typeof shifted?.main).toBe('function');

    // No cache file at all, and no bundle at all.
    rmSync(join(dir, name));
    expect(loadBundle(join(dir, 'drover.cjs'))?.cache).toBe('none');
    expect(loadBundle(join(dir, 'missing.cjs'))).toBeUndefined();
  });
});
