import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalConnection } from '../../../src/transport/local.js';
import { TransferError } from '../../../src/transport/transfer.js';

const conn = new LocalConnection('localhost');
const dir = mkdtempSync(join(tmpdir(), 'drover-local-'));
afterAll(async () => {
  await conn.close();
  rmSync(dir, { recursive: true, force: true });
});
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describe('LocalConnection', () => {
  it('returns rc, stdout and stderr as values', async () => {
    expect(await conn.run('echo out; echo err >&2; exit 7')).toEqual({
      rc: 7,
      stdout: 'out\n',
      stderr: 'err\n',
    });
  });

  it('passes 1 MiB stdin and 10 MiB stdout byte-exact', async () => {
    const input = randomBytes(1024 * 1024);
    const r = await conn.run('sha256sum | cut -d" " -f1', { stdin: input });
    expect(r.stdout.trim()).toBe(sha(input));
    // base64 text so the utf8 decode at the end is lossless
    const big = await conn.run('head -c 10485760 /dev/zero | tr "\\0" "a" | fold -w 76; printf x');
    expect(big.rc).toBe(0);
    expect(big.stdout.length).toBeGreaterThan(10 * 1024 * 1024 - 1024 * 1024);
    const again = await conn.run('head -c 10485760 /dev/zero | tr "\\0" "a" | fold -w 76 | sha256sum');
    expect(sha(big.stdout.slice(0, -1))).toBe(again.stdout.split(' ')[0]);
  });

  it('runs a 1 MiB script (beyond the 128 KiB argv limit) and still passes stdin', async () => {
    const data = randomBytes(512 * 1024).toString('hex');
    const script = `d='${data}'\nprintf %s "$d" | sha256sum | cut -d" " -f1\ncat`;
    const r = await conn.run(script, { stdin: 'payload-after-script', env: { A: 'b' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${sha(data)}\npayload-after-script`);
  });

  it('kills a command that runs past its timeout, with its children', async () => {
    const marker = join(dir, 'child-survived');
    const t = Date.now();
    const r = await conn.run(`(sleep 1; touch ${marker}) & sleep 30`, { timeoutMs: 200 });
    expect(Date.now() - t).toBeLessThan(3000);
    expect(r.timedOut).toBe(true);
    expect(r.rc).toBe(124);
    expect(r.stderr).toContain('timed out after 0.2s');
    await new Promise((res) => setTimeout(res, 1300));
    expect(() => statSync(marker)).toThrow();
  });

  it('reports a signal death', async () => {
    const r = await conn.run('kill -TERM $$');
    expect(r.signal).toBe('TERM');
    expect(r.rc).toBe(143);
  });

  it('put writes atomically with the mode, get reads back byte-exact', async () => {
    const data = randomBytes(300_000);
    const remote = join(dir, 'sub dir', "it's a file");
    await conn.run(`mkdir -p '${join(dir, 'sub dir')}'`);
    await conn.put(data, remote, { mode: 0o640 });
    expect(statSync(remote).mode & 0o777).toBe(0o640);
    expect(sha(readFileSync(remote))).toBe(sha(data));
    const src = join(dir, 'src');
    writeFileSync(src, 'from a file\n');
    await conn.put(src, remote);
    expect(readFileSync(remote, 'utf8')).toBe('from a file\n');
    const back = join(dir, 'back');
    await conn.put(data, remote);
    await conn.get(remote, back);
    expect(sha(readFileSync(back))).toBe(sha(data));
    const left = await conn.run(`ls -a '${join(dir, 'sub dir')}'`);
    expect(left.stdout).not.toContain('.tmp');
  });

  it('put and get failures are TransferErrors naming host and path', async () => {
    await expect(conn.put(Buffer.from('x'), '/nonexistent-dir/f')).rejects.toThrow(TransferError);
    await expect(conn.get('/nonexistent-file', join(dir, 'x'))).rejects.toThrow(
      /localhost:\/nonexistent-file/,
    );
  });
});
