import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { formatVaultYaml, vaultCommand } from '../../../cli/vault.js';
import { Keyring } from '../../../src/vault/index.js';
import { loadYaml } from '../../../src/yaml/load.js';

const tmp = mkdtempSync(join(tmpdir(), 'drover-vault-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

class Sink extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function run(
  args: string[],
  opts: { stdin?: string; answers?: string[]; visible?: string[] } = {},
): Promise<{ out: string; err: string; code: number; asked: string[] }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const stdin = new PassThrough();
  stdin.end(opts.stdin ?? '');
  const asked: string[] = [];
  const answers = [...(opts.answers ?? [])];
  const visible = [...(opts.visible ?? [])];
  const cmd = vaultCommand({
    stdin,
    stdout,
    stderr,
    prompt: async (q) => {
      asked.push(q);
      return answers.shift() ?? '';
    },
    promptVisible: async (q) => {
      asked.push(q);
      return visible.shift() ?? '';
    },
  });
  process.exitCode = undefined;
  await cmd.parseAsync(['node', 'drover-vault', ...args]);
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { out: stdout.text, err: stderr.text, code, asked };
}

const pw = join(tmp, 'pw');
writeFileSync(pw, 'pass\n');
const kr = new Keyring([{ id: 'default', password: Buffer.from('pass') }]);

describe('drover vault (in process)', () => {
  it('encrypt_string prints a !vault block exactly like ansible-vault, no trailing newline', async () => {
    const r = await run(['encrypt_string', '--vault-password-file', pw, '--name', 'db_pass', 'v@lue']);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('db_pass: !vault |');
    expect(lines[1]).toBe('          $ANSIBLE_VAULT;1.1;AES256');
    for (const l of lines.slice(2)) expect(l).toMatch(/^ {10}[0-9a-f]{1,80}$/);
    expect(r.out.endsWith('\n')).toBe(false);
    const doc = loadYaml(r.out, 'out.yml', { decryptVault: kr.yamlDecryptor() }).docs[0] as Record<
      string,
      unknown
    >;
    expect(String(doc.db_pass)).toBe('v@lue');
  });

  it('encrypt_string reads stdin with --stdin-name, and labels with the vault id', async () => {
    const r = await run(['encrypt_string', '--vault-id', `ops@${pw}`, '--stdin-name', 'from_stdin'], {
      stdin: 'multi\nline\n',
    });
    expect(r.out.split('\n').slice(0, 2)).toEqual([
      'from_stdin: !vault |',
      '          $ANSIBLE_VAULT;1.2;AES256;ops',
    ]);
    const ops = new Keyring([{ id: 'ops', password: Buffer.from('pass') }]);
    const doc = loadYaml(r.out, 'o', { decryptVault: ops.yamlDecryptor() }).docs[0] as Record<
      string,
      unknown
    >;
    expect(String(doc.from_stdin)).toBe('multi\nline\n');
    const empty = await run(['encrypt_string', '--vault-password-file', pw]);
    expect(empty.code).toBe(5);
    expect(empty.err).toContain('stdin was empty, not encrypting');
  });

  it('encrypt_string --prompt asks for the name and the hidden string', async () => {
    const r = await run(['encrypt_string', '--vault-password-file', pw, '-p'], {
      visible: ['answer_name'],
      answers: ['hidden-value'],
    });
    expect(r.asked).toEqual(['Variable name (enter for no name): ', 'String to encrypt (hidden): ']);
    expect(r.out.startsWith('answer_name: !vault |\n')).toBe(true);
    const bad = await run(['encrypt_string', '--vault-password-file', pw, '-p', '-']);
    expect(bad.code).toBe(5);
    expect(bad.err).toContain('--prompt option is not supported if also reading input from stdin');
  });

  it('--ask-vault-pass prompts twice to encrypt and once to decrypt', async () => {
    const f = join(tmp, 'asked.yml');
    writeFileSync(f, 'a: 1\n');
    const enc = await run(['encrypt', '--ask-vault-pass', f], { answers: ['pw1', 'pw1'] });
    expect(enc.asked).toEqual(['New Vault password: ', 'Confirm New Vault password: ']);
    expect(enc.code).toBe(0);
    const view = await run(['view', '--ask-vault-pass', f], { answers: ['pw1'] });
    expect(view.asked).toEqual(['Vault password: ']);
    expect(view.out).toBe('a: 1\n');
    const mismatch = await run(['encrypt', '--vault-id', 'x@prompt', join(tmp, 'other.yml')], {
      answers: ['one', 'two'],
    });
    expect(mismatch.asked).toEqual(['New vault password (x): ', 'Confirm new vault password (x): ']);
    expect(mismatch.code).toBe(1);
    expect(mismatch.err).toContain('Passwords do not match');
  });

  it('no password source at all: prompts, like ansible-vault', async () => {
    const r = await run(['encrypt_string', 'x'], { answers: ['p', 'p'] });
    expect(r.asked).toEqual(['New Vault password: ', 'Confirm New Vault password: ']);
    expect(r.code).toBe(0);
  });

  it('decrypt keeps the mode of the file and writes atomically; --output - goes to stdout', async () => {
    const f = join(tmp, 'mode.yml');
    writeFileSync(f, kr.encrypt('secret: 1\n'), { mode: 0o644 });
    const toStdout = await run(['decrypt', '--vault-password-file', pw, '--output', '-', f]);
    expect(toStdout.out).toBe('secret: 1\n');
    expect(readFileSync(f, 'utf8').startsWith('$ANSIBLE_VAULT')).toBe(true);
    const r = await run(['decrypt', '--vault-password-file', pw, f]);
    expect(r.code).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('secret: 1\n');
    expect(statSync(f).mode & 0o777).toBe(0o644);
  });

  it('rekey prompts for the new password when no new source is given', async () => {
    const f = join(tmp, 'rekey.yml');
    writeFileSync(f, kr.encrypt('r: 1\n'));
    const r = await run(['rekey', '--vault-password-file', pw, f], { answers: ['newpw', 'newpw'] });
    expect(r.code).toBe(0);
    expect(r.err).toContain('Rekey successful');
    const fresh = new Keyring([{ id: 'default', password: Buffer.from('newpw') }]);
    expect(fresh.decrypt(readFileSync(f), f).toString()).toBe('r: 1\n');
  });

  it('formatVaultYaml without a name', () => {
    expect(formatVaultYaml('$ANSIBLE_VAULT;1.1;AES256\nabcd\n')).toBe(
      '!vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          abcd',
    );
  });
});
