/**
 * The password prompt on a real terminal: `script` gives the CLI a pseudo-terminal, and the
 * test types into it once the question shows.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Keyring } from '../../../src/vault/index.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const hasScript = spawnSync('script', ['--version']).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'drover-vault-tty-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function onTerminal(
  args: string[],
  typing: [string, string][],
  env: NodeJS.ProcessEnv = {},
): Promise<{ out: string; code: number | null }> {
  const cmd = [
    process.execPath,
    '--import',
    join(ROOT, 'node_modules/tsx/dist/esm/index.mjs'),
    join(ROOT, 'cli/vault.ts'),
    ...args,
  ]
    .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], {
    cwd: tmp,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  let from = 0;
  const pending = [...typing];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    // Answer each question once it shows, in order; a repeated question is found after the last.
    while (pending.length > 0) {
      const at = out.indexOf(pending[0]![0], from);
      if (at < 0) break;
      from = at + pending[0]![0].length;
      child.stdin.write(pending.shift()![1]);
    }
  });
  const timer = setTimeout(() => child.kill(), 30_000);
  return new Promise((res) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ out, code });
    }),
  );
}

describe.skipIf(!hasScript)('vault password prompt on a terminal', () => {
  it('asks without echo and decrypts', async () => {
    const f = join(tmp, 'v.yml');
    writeFileSync(
      f,
      new Keyring([{ id: 'default', password: Buffer.from('typed-secret') }]).encrypt('hello: tty\n'),
    );
    const r = await onTerminal(['view', '--ask-vault-pass', f], [['Vault password: ', 'typed-secret\r']]);
    expect(r.out).toContain('Vault password: ');
    expect(r.out).toContain('hello: tty');
    expect(r.out).not.toContain('typed-secret');
    expect(r.code).toBe(0);
  });

  it('a wrong typed password fails with the clear message', async () => {
    const f = join(tmp, 'w.yml');
    writeFileSync(f, new Keyring([{ id: 'default', password: Buffer.from('right') }]).encrypt('x: 1\n'));
    const r = await onTerminal(
      ['view', '--vault-id', 'lbl@prompt', f],
      [['Vault password (lbl): ', 'wrong\r']],
    );
    expect(r.out).toContain(`Decryption failed (no vault secrets were found that could decrypt) on ${f}`);
    expect(r.out).not.toContain('wrong');
    expect(r.code).toBe(1);
  });

  it('view pages through $PAGER on a terminal', async () => {
    const f = join(tmp, 'p.yml');
    writeFileSync(f, new Keyring([{ id: 'default', password: Buffer.from('pw') }]).encrypt('paged: yes\n'));
    writeFileSync(join(tmp, 'pw'), 'pw\n');
    const r = await onTerminal(['view', '--vault-password-file', join(tmp, 'pw'), f], [], {
      PAGER: 'sed s/^/PAGED:/',
    });
    expect(r.out).toContain('PAGED:paged: yes');
    expect(r.code).toBe(0);
  });
});
