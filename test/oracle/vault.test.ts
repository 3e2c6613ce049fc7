/**
 * drover's vault against ansible-vault 2.14 (the oracle): files made by either tool open
 * in the other, for format 1.1 and 1.2, through the API and the CLI.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring, loadVaultSecrets } from '../../src/vault/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/tsx/dist/esm/index.mjs');
const CLI = join(ROOT, 'cli/vault.ts');
let dir: string;
// Keep ansible from reading a user's config or vault settings on this machine.
const ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  LANG: 'C.UTF-8',
  ANSIBLE_LOCALHOST_WARNING: 'False',
  ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False',
  ANSIBLE_LOCAL_TEMP: '',
};

function sh(
  cmd: string,
  args: string[],
  input?: string,
  env: NodeJS.ProcessEnv = {},
): SpawnSyncReturns<string> {
  const e = { ...ENV, ...env };
  if (!e.ANSIBLE_LOCAL_TEMP) e.ANSIBLE_LOCAL_TEMP = join(dir, '.ansible-tmp');
  if (!env.ANSIBLE_CONFIG) e.ANSIBLE_CONFIG = join(dir, 'ansible.cfg');
  const r = spawnSync(cmd, args, { cwd: dir, input: input ?? '', encoding: 'utf8', env: e, timeout: 60_000 });
  if (r.error) throw r.error;
  return r;
}
const drover = (args: string[], input?: string, env?: NodeJS.ProcessEnv) =>
  sh(process.execPath, ['--import', TSX, CLI, ...args], input, env);
const ansibleVault = (args: string[], input?: string, env?: NodeJS.ProcessEnv) =>
  sh('ansible-vault', args, input, env);

function ok(r: SpawnSyncReturns<string>): string {
  expect(r.stderr).not.toMatch(/Traceback|ERROR!/);
  expect(r.status).toBe(0);
  return r.stdout;
}
const file = (name: string, text?: string, mode?: number): string => {
  const p = join(dir, name);
  if (text !== undefined) writeFileSync(p, text);
  if (mode !== undefined) chmodSync(p, mode);
  return p;
};
const read = (name: string): string => readFileSync(join(dir, name), 'utf8');

const PLAIN = 'db_user: admin\ndb_password: "s3cr3t with spaces & ümlauts"\nempty: ""\n';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'drover-vault-oracle-'));
  file('ansible.cfg', '[defaults]\n');
  file('pw-a', 'alpha-password\n');
  file('pw-b', 'bravo-password\n');
  file('pw-wrong', 'not-it\n');
  file('pass-script.sh', '#!/bin/sh\necho scripted-password\n', 0o755);
  file(
    'vault-client.sh',
    '#!/bin/sh\n[ "$1" = --vault-id ] || exit 3\ncase "$2" in ops) echo ops-password;; *) echo "unknown $2" >&2; exit 2;; esac\n',
    0o755,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FORMATS = [
  {
    name: '1.1',
    id: undefined,
    header: '$ANSIBLE_VAULT;1.1;AES256',
    droverArgs: ['--vault-password-file', 'pw-a'],
  },
  {
    name: '1.2',
    id: 'prod',
    header: '$ANSIBLE_VAULT;1.2;AES256;prod',
    droverArgs: ['--vault-id', 'prod@pw-a'],
  },
] as const;

describe.each(FORMATS)('format $name', ({ name, id, header, droverArgs }) => {
  it('ansible-vault encrypt → drover API and CLI decrypt', async () => {
    const f = file(`by-ansible-${name}.yml`, PLAIN);
    ok(ansibleVault(['encrypt', ...droverArgs, f]));
    expect(read(`by-ansible-${name}.yml`).split('\n')[0]).toBe(header);
    const secrets = await loadVaultSecrets({
      vaultId: id ? [`${id}@${join(dir, 'pw-a')}`] : [],
      vaultPasswordFile: id ? [] : [join(dir, 'pw-a')],
      env: {},
    });
    expect(new Keyring(secrets).decrypt(readFileSync(f), f).toString('utf8')).toBe(PLAIN);
    expect(ok(drover(['view', ...droverArgs, f]))).toBe(PLAIN);
    expect(ok(drover(['decrypt', ...droverArgs, '--output', '-', f]))).toBe(PLAIN);
    ok(drover(['decrypt', ...droverArgs, f]));
    expect(read(`by-ansible-${name}.yml`)).toBe(PLAIN);
  });

  it('drover CLI and API encrypt → ansible-vault view and decrypt', () => {
    const f = file(`by-drover-${name}.yml`, PLAIN);
    ok(drover(['encrypt', ...droverArgs, f]));
    expect(read(`by-drover-${name}.yml`).split('\n')[0]).toBe(header);
    expect(ok(ansibleVault(['view', ...droverArgs, f]))).toBe(PLAIN);

    const kr = new Keyring([{ id: id ?? 'default', password: Buffer.from('alpha-password') }]);
    const g = file(`by-drover-api-${name}.yml`, kr.encrypt(PLAIN));
    expect(read(`by-drover-api-${name}.yml`).split('\n')[0]).toBe(header);
    ok(ansibleVault(['decrypt', ...droverArgs, g]));
    expect(read(`by-drover-api-${name}.yml`)).toBe(PLAIN);
  });

  it('stdin to stdout both ways', () => {
    const cipher = ok(drover(['encrypt', ...droverArgs], PLAIN));
    expect(cipher.startsWith(`${header}\n`)).toBe(true);
    expect(ok(ansibleVault(['decrypt', ...droverArgs], cipher))).toBe(PLAIN);
    const cipher2 = ok(ansibleVault(['encrypt', ...droverArgs, '--output', '-', '-'], PLAIN));
    expect(ok(drover(['decrypt', ...droverArgs, '-'], cipher2))).toBe(PLAIN);
  });

  it('encrypt_string output is used by ansible as a variable', () => {
    const out = ok(drover(['encrypt_string', ...droverArgs, '--name', 'api_token', 'tök3n value']));
    expect(out.split('\n')[0]).toBe('api_token: !vault |');
    expect(out.split('\n')[1]).toBe(`          ${header}`);
    const vars = file(`vars-${name}.yml`, `${out}\n`);
    const r = sh(
      'ansible',
      ['localhost', '-c', 'local', '-m', 'debug', '-a', 'var=api_token', '-e', `@${vars}`, ...droverArgs],
      undefined,
      { ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3' },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('"api_token": "tök3n value"');
  });

  it('rekey with each tool, and the other opens the result', () => {
    const f = file(`rekey-${name}.yml`, PLAIN);
    ok(ansibleVault(['encrypt', ...droverArgs, f]));
    const r = drover(['rekey', ...droverArgs, '--new-vault-id', `next@${join(dir, 'pw-b')}`, f]);
    ok(r);
    expect(r.stderr).toContain('Rekey successful');
    expect(read(`rekey-${name}.yml`).split('\n')[0]).toBe('$ANSIBLE_VAULT;1.2;AES256;next');
    expect(ok(ansibleVault(['view', '--vault-id', 'next@pw-b', f]))).toBe(PLAIN);
    ok(ansibleVault(['rekey', '--vault-id', 'next@pw-b', '--new-vault-password-file', 'pw-a', f]));
    expect(read(`rekey-${name}.yml`).split('\n')[0]).toBe('$ANSIBLE_VAULT;1.1;AES256');
    expect(ok(drover(['view', '--vault-password-file', 'pw-a', f]))).toBe(PLAIN);
  });
});

describe('several vault ids', () => {
  it('drover encrypts with --encrypt-vault-id; both tools pick the right secret among several', () => {
    const f = file('multi.yml', PLAIN);
    const ids = ['--vault-id', 'dev@pw-a', '--vault-id', 'prod@pw-b'];
    const refused = drover(['encrypt', ...ids, f]);
    const refusedAnsible = ansibleVault(['encrypt', ...ids, f]);
    expect(refused.status).toBe(refusedAnsible.status);
    expect(refused.stderr).toContain('The vault-ids dev,prod are available to encrypt');
    ok(drover(['encrypt', ...ids, '--encrypt-vault-id', 'prod', f]));
    expect(read('multi.yml').split('\n')[0]).toBe('$ANSIBLE_VAULT;1.2;AES256;prod');
    expect(ok(ansibleVault(['view', ...ids, f]))).toBe(PLAIN);
    // Ids given in the other order, and a label that does not match: still found, like Ansible.
    expect(ok(drover(['view', '--vault-id', 'prod@pw-b', '--vault-id', 'dev@pw-a', f]))).toBe(PLAIN);
    expect(ok(drover(['view', '--vault-id', 'dev@pw-wrong', '--vault-id', 'other@pw-b', f]))).toBe(PLAIN);
    expect(ok(ansibleVault(['view', '--vault-id', 'dev@pw-wrong', '--vault-id', 'other@pw-b', f]))).toBe(
      PLAIN,
    );
  });

  it('ANSIBLE_VAULT_IDENTITY_LIST and password scripts work the same in both tools', () => {
    const f = file('scripted.yml', PLAIN);
    ok(ansibleVault(['encrypt', '--vault-id', 'ops@vault-client.sh', f]));
    expect(ok(drover(['view', f], undefined, { ANSIBLE_VAULT_IDENTITY_LIST: 'ops@vault-client.sh' }))).toBe(
      PLAIN,
    );
    const g = file('scripted2.yml', PLAIN);
    ok(drover(['encrypt', '--vault-password-file', 'pass-script.sh', g]));
    expect(ok(ansibleVault(['view', '--vault-password-file', 'pass-script.sh', g]))).toBe(PLAIN);
    const unknown = drover(['view', '--vault-id', 'qa@vault-client.sh', f]);
    expect(unknown.status).toBe(ansibleVault(['view', '--vault-id', 'qa@vault-client.sh', f]).status);
    expect(unknown.stderr).toContain('did not find a secret for vault-id=qa');
  });
});

describe('errors', () => {
  it('a wrong password: same exit code as ansible-vault, the file named, no stack trace', () => {
    const f = file('locked.yml', PLAIN);
    ok(ansibleVault(['encrypt', '--vault-password-file', 'pw-a', f]));
    const theirs = ansibleVault(['view', '--vault-password-file', 'pw-wrong', f]);
    for (const action of ['view', 'decrypt', 'edit', 'rekey']) {
      const args = [action, '--vault-password-file', 'pw-wrong', f];
      if (action === 'rekey') args.push('--new-vault-password-file', 'pw-b');
      const ours = drover(args, undefined, { EDITOR: 'true' });
      expect(ours.status).toBe(theirs.status);
      expect(ours.status).not.toBe(0);
      expect(ours.stderr).toContain(
        `Decryption failed (no vault secrets were found that could decrypt) on ${f}`,
      );
      expect(ours.stderr).not.toMatch(/^\s+at /m);
      expect(ours.stderr).not.toContain('alpha-password');
    }
    expect(read('locked.yml').startsWith('$ANSIBLE_VAULT;1.1;AES256\n')).toBe(true);
  });

  it('option errors exit like ansible-vault', () => {
    for (const args of [
      ['create', '--vault-password-file', 'pw-a', 'x1', 'x2'],
      ['encrypt_string', '--vault-password-file', 'pw-a', ''],
      ['encrypt', '--vault-id', 'a;b@pw-a', 'x'],
      ['view', '--no-such-flag', 'x'],
      ['rekey', '--new-vault-id', 'x@pw-a', '--new-vault-password-file', 'pw-b', 'x'],
    ]) {
      const ours = drover(args);
      const theirs = ansibleVault(args);
      expect({ args, status: ours.status }).toEqual({ args, status: theirs.status });
    }
    const missing = drover(['view', '--vault-password-file', 'nope', 'x']);
    expect(missing.status).toBe(ansibleVault(['view', '--vault-password-file', 'nope', 'x']).status);
    expect(missing.stderr).toMatch(/The vault password file .*nope was not found/);
  });
});

describe('edit and create', () => {
  it('edit re-encrypts with the same label and secret, keeps the mode, and removes the plaintext', () => {
    const f = file('edit.yml', PLAIN);
    ok(ansibleVault(['encrypt', '--vault-id', 'prod@pw-a', f]));
    chmodSync(f, 0o640);
    const log = join(dir, 'editor.log');
    const editor = file('editor.sh', `#!/bin/sh\necho "$1" > '${log}'\nsed -i 's/admin/root/' "$1"\n`, 0o755);
    ok(drover(['edit', '--vault-id', 'prod@pw-a', f], undefined, { EDITOR: editor }));
    expect(statSync(f).mode & 0o777).toBe(0o640);
    expect(read('edit.yml').split('\n')[0]).toBe('$ANSIBLE_VAULT;1.2;AES256;prod');
    expect(ok(ansibleVault(['view', '--vault-id', 'prod@pw-a', f]))).toBe(PLAIN.replace('admin', 'root'));
    const tmpPath = readFileSync(log, 'utf8').trim();
    expect(tmpPath.endsWith('.yml')).toBe(true);
    expect(existsSync(tmpPath)).toBe(false);
  });

  it('create writes what the editor saved, encrypted; refuses an existing file', () => {
    const editor = file('writer.sh', '#!/bin/sh\nprintf "created: yes\\n" > "$1"\n', 0o755);
    const f = join(dir, 'sub/new.yml');
    ok(drover(['create', '--vault-password-file', 'pw-a', f], undefined, { EDITOR: editor }));
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(ok(ansibleVault(['view', '--vault-password-file', 'pw-a', f]))).toBe('created: yes\n');
    const again = drover(['create', '--vault-password-file', 'pw-a', f], undefined, { EDITOR: editor });
    expect(again.status).toBe(
      ansibleVault(['create', '--vault-password-file', 'pw-a', f], undefined, { EDITOR: editor }).status,
    );
    expect(again.stderr).toContain("exists, please use 'edit' instead");
  });
});

describe('edge cases both ways', () => {
  it('binary, empty and 1 MB plaintexts; a non-ASCII password with surrounding spaces', () => {
    file('pw-uni', '  pässwörd mit Leerzeichen \t\n');
    const args = ['--vault-password-file', 'pw-uni'];
    const binary = Buffer.from(Array.from({ length: 4099 }, (_, i) => (i * 131 + 7) % 256));
    const big = Buffer.alloc(1 << 20, 'abcdefghijklmnopqrstuvwxyz0123456789\n');
    for (const [name, data] of [
      ['bin', binary],
      ['empty', Buffer.alloc(0)],
      ['big', big],
    ] as const) {
      const ours = join(dir, `edge-ours-${name}`);
      writeFileSync(ours, data);
      ok(drover(['encrypt', ...args, ours]));
      ok(ansibleVault(['decrypt', ...args, ours]));
      expect(readFileSync(ours).equals(data)).toBe(true);
      const theirs = join(dir, `edge-theirs-${name}`);
      writeFileSync(theirs, data);
      ok(ansibleVault(['encrypt', ...args, theirs]));
      ok(drover(['decrypt', ...args, theirs]));
      expect(readFileSync(theirs).equals(data)).toBe(true);
    }
  });

  it('a vault-encrypted password file, decrypted with an earlier secret, in both tools', () => {
    file('pw-inner', 'inner-password\n');
    const inner = join(dir, 'pw-inner');
    ok(ansibleVault(['encrypt', '--vault-password-file', 'pw-a', inner]));
    const f = file('nested.yml', PLAIN);
    const ids = ['--vault-id', 'outer@pw-a', '--vault-id', 'inner@pw-inner'];
    ok(drover(['encrypt', ...ids, '--encrypt-vault-id', 'inner', f]));
    expect(ok(ansibleVault(['view', ...ids, f]))).toBe(PLAIN);
    const g = file('nested2.yml', PLAIN);
    ok(ansibleVault(['encrypt', ...ids, '--encrypt-vault-id', 'inner', g]));
    expect(ok(drover(['view', ...ids, g]))).toBe(PLAIN);
  });
});

describe('ansible.cfg', () => {
  it('vault_password_file in ansible.cfg is used by both tools, relative to the file', () => {
    const cfgDir = join(dir, 'cfgdir');
    mkdirSync(cfgDir, { recursive: true });
    writeFileSync(join(cfgDir, 'vault-pass'), 'from-config\n');
    const cfg = join(cfgDir, 'ansible.cfg');
    writeFileSync(cfg, '[defaults]\nvault_password_file = vault-pass\n');
    const f = file('cfg.yml', PLAIN);
    ok(drover(['encrypt', f], undefined, { ANSIBLE_CONFIG: cfg }));
    expect(ok(ansibleVault(['view', f], undefined, { ANSIBLE_CONFIG: cfg }))).toBe(PLAIN);
    expect(ok(ansibleVault(['view', '--vault-password-file', join(cfgDir, 'vault-pass'), f]))).toBe(PLAIN);
  });
});

describe('ansible.cfg vault identities', () => {
  it('vault_identity_list and vault_encrypt_identity pick the same secret in both tools', () => {
    const cfg = join(dir, 'ids.cfg');
    writeFileSync(
      cfg,
      '[defaults]\nvault_identity_list = dev@pw-a, prod@pw-b\nvault_encrypt_identity = prod\n',
    );
    const env = { ANSIBLE_CONFIG: cfg };
    const ours = file('cfg-ids-ours.yml', PLAIN);
    const theirs = file('cfg-ids-theirs.yml', PLAIN);
    ok(drover(['encrypt', ours], undefined, env));
    ok(ansibleVault(['encrypt', theirs], undefined, env));
    expect(read('cfg-ids-ours.yml').split('\n')[0]).toBe(read('cfg-ids-theirs.yml').split('\n')[0]);
    expect(read('cfg-ids-ours.yml').split('\n')[0]).toBe('$ANSIBLE_VAULT;1.2;AES256;prod');
    expect(ok(ansibleVault(['view', ours], undefined, env))).toBe(PLAIN);
    expect(ok(drover(['view', theirs], undefined, env))).toBe(PLAIN);
    expect(ok(ansibleVault(['view', '--vault-id', 'prod@pw-b', ours]))).toBe(PLAIN);
  });
});

describe('through the main drover CLI', () => {
  it('drover vault encrypt_string → ansible-playbook uses the value; wrong password exits 1', () => {
    const main = (args: string[], input?: string) =>
      sh(process.execPath, ['--import', TSX, join(ROOT, 'cli/drover.ts'), 'vault', ...args], input);
    const out = ok(
      main(
        ['encrypt_string', '--vault-id', 'prod@pw-b', '--stdin-name', 'deploy_key'],
        'line one\nline two\n',
      ),
    );
    const vars = file('main-vars.yml', `${out}\n`);
    const play = file(
      'main-play.yml',
      '- hosts: localhost\n  gather_facts: false\n  tasks:\n    - assert: { that: [\'deploy_key == "line one\\nline two\\n"\'] }\n',
    );
    const r = sh(
      'ansible-playbook',
      [play, '-c', 'local', '-e', `@${vars}`, '--vault-id', 'prod@pw-b'],
      undefined,
      {
        ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
      },
    );
    expect(r.stdout).toMatch(/ok=1 .*failed=0/);
    expect(r.status).toBe(0);
    const f = file('main-locked.yml', PLAIN);
    ok(main(['encrypt', '--vault-password-file', 'pw-a', f]));
    const wrong = main(['view', '--vault-password-file', 'pw-b', f]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain(
      `Decryption failed (no vault secrets were found that could decrypt) on ${f}`,
    );
  });
});
