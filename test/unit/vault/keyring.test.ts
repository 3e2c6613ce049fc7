import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  encryptVaultText,
  isVaultText,
  Keyring,
  loadVaultSecrets,
  parseEnvelope,
  VaultError,
  vaultIdSlugs,
} from '../../../src/vault/index.js';
import { loadYaml } from '../../../src/yaml/load.js';

const fx = (name: string): string => join(import.meta.dirname, 'fixtures', name);
const PASSWORD = Buffer.from('correct horse battery staple');
const tmp = mkdtempSync(join(tmpdir(), 'drover-vault-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('format', () => {
  it('decrypts a 1.1 file made by ansible-vault 2.14', () => {
    const kr = new Keyring([{ id: 'default', password: PASSWORD }]);
    expect(kr.decrypt(readFileSync(fx('v11.yml')), 'v11.yml').toString('utf8')).toBe(
      readFileSync(fx('plain.yml'), 'utf8'),
    );
  });

  it('decrypts a 1.2 file with a label made by ansible-vault', () => {
    const kr = new Keyring([{ id: 'prod', password: PASSWORD }]);
    const opened = kr.open(readFileSync(fx('v12.yml'), 'utf8'), 'v12.yml');
    expect(opened.fileId).toBe('prod');
    expect(opened.plaintext.toString('utf8')).toBe(readFileSync(fx('plain.yml'), 'utf8'));
  });

  it('encrypts byte-identically to ansible-vault for a fixed salt (1.1 and 1.2)', () => {
    const salt = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    expect(encryptVaultText('exactly 32 bytes of plaintext!!\n', PASSWORD, { salt })).toBe(
      readFileSync(fx('fixed-salt-v11.vault'), 'utf8'),
    );
    expect(encryptVaultText('label me\n', PASSWORD, { salt, id: 'ops' })).toBe(
      readFileSync(fx('fixed-salt-v12.vault'), 'utf8'),
    );
  });

  it('writes 80-column lines, a 1.1 header for the default id and a final newline', () => {
    const text = encryptVaultText('x'.repeat(500), Buffer.from('pw'), { id: 'default' });
    const lines = text.split('\n');
    expect(lines[0]).toBe('$ANSIBLE_VAULT;1.1;AES256');
    expect(lines.at(-1)).toBe('');
    for (const l of lines.slice(1, -2)) expect(l).toHaveLength(80);
    expect(lines.at(-2)!.length).toBeGreaterThan(0);
    expect(lines.at(-2)!.length).toBeLessThanOrEqual(80);
  });

  it('reads files with CRLF line ends and surrounding blank lines (edited on Windows)', () => {
    const kr = new Keyring([{ id: 'prod', password: PASSWORD }]);
    const crlf = `\r\n${readFileSync(fx('v12.yml'), 'utf8').replace(/\n/g, '\r\n')}\r\n`;
    expect(kr.decrypt(crlf, 'v12.yml').toString('utf8')).toBe(readFileSync(fx('plain.yml'), 'utf8'));
  });

  it('round-trips binary data and empty plaintext', () => {
    const kr = new Keyring([{ id: 'default', password: Buffer.from('pw') }]);
    const bin = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256));
    expect(kr.decrypt(kr.encrypt(bin), 'bin').equals(bin)).toBe(true);
    expect(kr.decrypt(kr.encrypt(''), 'empty').length).toBe(0);
  });

  it('rejects a tampered HMAC and a tampered ciphertext, naming the file', () => {
    const kr = new Keyring([{ id: 'default', password: Buffer.from('pw') }]);
    const text = kr.encrypt('attack at dawn');
    const env = parseEnvelope(text, 't');
    const inner = Buffer.from(env.body, 'hex').toString('latin1').split('\n');
    const flip = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
    const badHmac = [inner[0], flip(inner[1]!), inner[2]].join('\n');
    const badCipher = [inner[0], inner[1], flip(inner[2]!)].join('\n');
    for (const bad of [badHmac, badCipher]) {
      const body = Buffer.from(bad, 'latin1').toString('hex');
      const tampered = `$ANSIBLE_VAULT;1.1;AES256\n${body}\n`;
      expect(() => kr.decrypt(tampered, 'group_vars/all/vault.yml')).toThrow(
        'Decryption failed (no vault secrets were found that could decrypt) on group_vars/all/vault.yml',
      );
    }
  });

  it('gives a clear VaultError for a wrong password, and for plain text', () => {
    const kr = new Keyring([{ id: 'default', password: Buffer.from('wrong') }]);
    let err: unknown;
    try {
      kr.decrypt(readFileSync(fx('v11.yml')), 'host_vars/web1.yml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VaultError);
    expect((err as VaultError).message).toBe(
      'Decryption failed (no vault secrets were found that could decrypt) on host_vars/web1.yml',
    );
    expect((err as VaultError).exitCode).toBe(1);
    expect(() => kr.decrypt('foo: bar\n', 'plain.yml')).toThrow(/plain\.yml is not a vault encrypted file/);
    expect(() => kr.decrypt('$ANSIBLE_VAULT;1.1;AES256\nzz\n', 'bad.yml')).toThrow(
      /format error in bad\.yml/,
    );
  });

  it('isVaultText checks the header on strings and bytes', () => {
    expect(isVaultText('$ANSIBLE_VAULT;1.1;AES256\n00')).toBe(true);
    expect(isVaultText(Buffer.from('$ANSIBLE_VAULT;1.2;AES256;x\n'))).toBe(true);
    expect(isVaultText('---\nfoo: 1')).toBe(false);
    expect(isVaultText(new Uint8Array([0x24, 0x41]))).toBe(false);
  });
});

describe('Keyring', () => {
  it('tries the secret with the matching label first, then the others', () => {
    const a = { id: 'dev', password: Buffer.from('dev-pw') };
    const b = { id: 'prod', password: Buffer.from('prod-pw') };
    const kr = new Keyring([a, b]);
    const prod = kr.encrypt('p', { id: 'prod' });
    expect(prod.split('\n')[0]).toBe('$ANSIBLE_VAULT;1.2;AES256;prod');
    expect(kr.open(prod, 'x').secret.id).toBe('prod');
    // A file labelled with an id nobody holds still opens with whichever secret fits.
    const relabelled = new Keyring([{ id: 'other', password: Buffer.from('dev-pw') }]).encrypt('d');
    expect(kr.open(relabelled, 'y').secret.id).toBe('dev');
    // With id matching on, only the labelled secret is tried.
    const strict = new Keyring([a, b], { idMatch: true });
    expect(() => strict.decrypt(relabelled, 'y')).toThrow(/no vault secrets/);
  });

  it('refuses an unknown --encrypt-vault-id and double encryption', () => {
    const kr = new Keyring([{ id: 'dev', password: Buffer.from('x') }]);
    expect(() => kr.encrypt('a', { id: 'prod' })).toThrow(/Did not find a match for --encrypt-vault-id=prod/);
    expect(() => kr.encrypt(kr.encrypt('a'))).toThrow(/already encrypted/);
    expect(() => new Keyring([]).decrypt(kr.encrypt('a'), 'f')).toThrow(/no vault secrets found/);
  });

  it('decrypts inline !vault values through loadYaml and reports each plaintext', () => {
    const kr = new Keyring([
      { id: 'default', password: PASSWORD },
      { id: 'dev', password: Buffer.from('other') },
    ]);
    const seen: string[] = [];
    kr.onSecret((s) => seen.push(s));
    const y = loadYaml(readFileSync(fx('inline.yml'), 'utf8'), 'inline.yml', {
      decryptVault: kr.yamlDecryptor(),
    });
    expect(y.problems).toEqual([]);
    const doc = y.docs[0] as Record<string, unknown>;
    expect(String(doc.api_key)).toBe('k3y-value');
    expect(String(doc.dev_token)).toBe('dev-t0ken');
    expect(seen.sort()).toEqual(['dev-t0ken', 'k3y-value']);
  });

  it('a whole encrypted YAML file through the decryptor registers its values, not its lines', () => {
    const kr = new Keyring([{ id: 'default', password: PASSWORD }]);
    const seen: string[] = [];
    kr.onSecret((s) => seen.push(s));
    const text = kr.decryptText(readFileSync(fx('v11.yml'), 'utf8'), 'group_vars/all/vault.yml');
    expect(text).toBe(readFileSync(fx('plain.yml'), 'utf8'));
    expect(seen).toEqual(['s3cr3t-Ünïcode', 'a', 'b']);
    // A multi-line secret that is not a YAML collection is registered whole.
    const key = '-----BEGIN KEY-----\nabc\n-----END KEY-----\n';
    seen.length = 0;
    kr.decryptText(kr.encrypt(key), 'inline');
    expect(seen).toEqual([key]);
  });

  it('a one-line encrypted vars file registers its value (it leaked before), an inline value stays whole', () => {
    const kr = new Keyring([{ id: 'default', password: PASSWORD }]);
    const seen: string[] = [];
    kr.onSecret((s) => seen.push(s));
    kr.decryptText(kr.encrypt('db_password: Pl4nted-0042\n'), 'secrets.yml');
    expect(seen).toContain('Pl4nted-0042');
    seen.length = 0;
    kr.decryptText(kr.encrypt('plain-s3cret'), 'inline');
    expect(seen).toEqual(['plain-s3cret']);
  });

  it('prepare() derives the keys of every inline value and whole file ahead, in parallel', async () => {
    const kr = new Keyring([
      { id: 'dev', password: Buffer.from('dev-pw') },
      { id: 'prod', password: Buffer.from('prod-pw') },
    ]);
    const inline = (v: string, id: string): string =>
      `!vault |\n${kr
        .encrypt(v, { id })
        .trimEnd()
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n')}`;
    const yaml = Array.from(
      { length: 12 },
      (_, i) => `k${i}: ${inline(`value-${i}`, i % 2 ? 'prod' : 'dev')}`,
    ).join('\n');
    const whole = kr.encrypt('whole: file\n', { id: 'prod' });
    await kr.prepare([yaml, whole, 'no vault here']);
    const doc = loadYaml(yaml, 'many.yml', { decryptVault: kr.yamlDecryptor() }).docs[0] as Record<
      string,
      unknown
    >;
    expect(String(doc.k11)).toBe('value-11');
    expect(kr.decrypt(whole, 'whole.yml').toString()).toBe('whole: file\n');
    expect(kr.syncDerivations).toBe(0);
    // Without prepare every value costs a derivation on the main thread.
    const cold = new Keyring([
      { id: 'dev', password: Buffer.from('dev-pw') },
      { id: 'prod', password: Buffer.from('prod-pw') },
    ]);
    loadYaml(yaml, 'many.yml', { decryptVault: cold.yamlDecryptor() });
    expect(cold.syncDerivations).toBe(12);
  });

  it('noteSecretsIn registers every leaf of a decrypted vars file', () => {
    const kr = new Keyring([]);
    const seen: string[] = [];
    kr.onSecret((s) => seen.push(s));
    kr.noteSecretsIn({ a: 'one', b: [2, { c: 'three' }] });
    expect(seen).toEqual(['one', '2', 'three']);
  });
});

describe('loadVaultSecrets', () => {
  it('orders identity list, --vault-id, password files, then the prompt', () => {
    expect(
      vaultIdSlugs({
        vaultId: ['dev@a', 'b'],
        vaultPasswordFile: ['c'],
        askVaultPass: true,
        env: { ANSIBLE_VAULT_IDENTITY_LIST: 'x@y, z@w', ANSIBLE_VAULT_PASSWORD_FILE: 'e' },
      }),
    ).toEqual(['x@y', 'z@w', 'dev@a', 'b', 'default@c', 'default@e', 'default@prompt_ask_vault_pass']);
    expect(vaultIdSlugs({ env: {}, autoPrompt: true })).toEqual(['default@prompt_ask_vault_pass']);
    expect(vaultIdSlugs({ env: {} })).toEqual([]);
  });

  it('reads plain files (whitespace stripped), scripts and client scripts', async () => {
    const plain = join(tmp, 'plain.txt');
    writeFileSync(plain, '  hunter2 \n\n');
    const script = join(tmp, 'pass.sh');
    writeFileSync(script, '#!/bin/sh\nprintf "from-script\\r\\n"\n');
    chmodSync(script, 0o755);
    const client = join(tmp, 'vault-client.py');
    writeFileSync(
      client,
      '#!/bin/sh\n[ "$1" = --vault-id ] || exit 3\ncase "$2" in prod) echo "client-$2";; *) echo "no $2" >&2; exit 2;; esac\n',
    );
    chmodSync(client, 0o755);
    const secrets = await loadVaultSecrets({
      vaultId: [`prod@${client}`, `s@${script}`],
      vaultPasswordFile: [plain],
      env: {},
    });
    expect(secrets.map((s) => [s.id, s.password.toString()])).toEqual([
      ['prod', 'client-prod'],
      ['s', 'from-script'],
      ['default', 'hunter2'],
    ]);
    const warnings: string[] = [];
    await expect(
      loadVaultSecrets({ vaultId: [`qa@${client}`], env: {}, warn: (m) => warnings.push(m) }),
    ).rejects.toThrow(/did not find a secret for vault-id=qa: no qa/);
    expect(warnings[0]).toMatch(/Error getting vault password file \(qa\)/);
  });

  it('reads a password file named twice only once', async () => {
    const counter = join(tmp, 'count');
    const script = join(tmp, 'counting.sh');
    writeFileSync(script, `#!/bin/sh\necho x >> '${counter}'\necho pw\n`);
    chmodSync(script, 0o755);
    const secrets = await loadVaultSecrets({
      vaultPasswordFile: [script],
      env: { ANSIBLE_VAULT_PASSWORD_FILE: script },
    });
    expect(secrets).toHaveLength(1);
    expect(readFileSync(counter, 'utf8')).toBe('x\n');
  });

  it('fails only when no password file worked', async () => {
    const good = join(tmp, 'good.txt');
    writeFileSync(good, 'pw\n');
    const warnings: string[] = [];
    const secrets = await loadVaultSecrets({
      vaultPasswordFile: [join(tmp, 'missing.txt'), good],
      env: {},
      warn: (m) => warnings.push(m),
    });
    expect(secrets).toHaveLength(1);
    expect(warnings.join()).toMatch(/missing\.txt was not found/);
    await expect(
      loadVaultSecrets({ vaultPasswordFile: [join(tmp, 'missing.txt')], env: {}, warn: () => {} }),
    ).rejects.toThrow(VaultError);
    const empty = join(tmp, 'empty.txt');
    writeFileSync(empty, '\n');
    await expect(loadVaultSecrets({ vaultPasswordFile: [empty], env: {}, warn: () => {} })).rejects.toThrow(
      /Invalid vault password was provided from file/,
    );
  });

  it('prompts with the ansible texts, and confirms new passwords', async () => {
    const asked: string[] = [];
    const answers = ['p1', 'p1', 'p2'];
    const secrets = await loadVaultSecrets(
      { vaultId: ['dev@prompt'], askVaultPass: true, newPassword: false, env: {} },
      async (q) => {
        asked.push(q);
        return answers.shift()!;
      },
    );
    expect(asked).toEqual(['Vault password (dev): ', 'Vault password: ']);
    expect(secrets.map((s) => s.id)).toEqual(['dev', 'default']);
    const replies = ['a', 'b'];
    await expect(
      loadVaultSecrets({ askVaultPass: true, newPassword: true, env: {} }, async () => replies.shift()!),
    ).rejects.toThrow('Passwords do not match');
  });

  it('accepts a password file that is itself vault-encrypted with an earlier secret', async () => {
    const first = join(tmp, 'first.txt');
    writeFileSync(first, 'outer\n');
    const inner = join(tmp, 'inner.vault');
    writeFileSync(inner, encryptVaultText('inner-pw\n', Buffer.from('outer')));
    const secrets = await loadVaultSecrets({ vaultId: [`a@${first}`, `b@${inner}`], env: {} });
    expect(secrets[1]!.password.toString()).toBe('inner-pw');
  });
});
