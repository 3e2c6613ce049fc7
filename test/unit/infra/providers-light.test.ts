/**
 * The light providers against the real things: keys checked by ssh-keygen, random values kept
 * until a keeper changes, an inventory file read back by drover's inventory loader.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runInfra } from '../../../cli/infra.js';
import { parseState } from '../../../src/infra/state.js';
import { loadInventory } from '../../../src/inventory/inventory.js';

const root = mkdtempSync(join(tmpdir(), 'drover-infra-providers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function apply(dir: string, text: string, ...args: string[]) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'main.infra.yml'), text);
  let err = '';
  const code = await runInfra(['-chdir', dir, 'apply', '-auto-approve', ...args], {
    write: () => {},
    writeErr: (t) => (err += t),
  });
  expect(code, err).toBe(0);
  const st = parseState(readFileSync(join(dir, 'drover.tfstate.json'), 'utf8'), 'state');
  return (addr: string) => st.resources.find((i) => i.address === addr)!.attributes;
}

describe('light providers', () => {
  it('tls_private_key and ssh_keypair make keys ssh-keygen accepts', async () => {
    const dir = join(root, 'keys');
    const attrs = await apply(
      dir,
      `
resources:
  tls_private_key:
    ed: {algorithm: ED25519}
    rsa: {algorithm: RSA, rsa_bits: 2048}
    ec: {algorithm: ECDSA}
  ssh_keypair:
    deploy: {path: keys/deploy, comment: ci}
`,
    );
    for (const k of ['ed', 'rsa', 'ec']) {
      const a = attrs(`tls_private_key.${k}`);
      writeFileSync(join(dir, `${k}.pub`), a.public_key_openssh as string);
      const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, `${k}.pub`)], {
        encoding: 'utf8',
      }).split(' ')[1];
      expect(fp).toBe(a.public_key_fingerprint_sha256);
      expect(a.private_key_pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    }
    const kp = attrs('ssh_keypair.deploy');
    expect(statSync(join(dir, 'keys/deploy')).mode & 0o777).toBe(0o600);
    expect(kp.public_key).toMatch(/^ssh-ed25519 \S+ ci$/);
    // The private key file matches the public key.
    const derived = execFileSync('ssh-keygen', ['-y', '-f', join(dir, 'keys/deploy')], { encoding: 'utf8' });
    expect(derived.split(' ').slice(0, 2)).toEqual((kp.public_key as string).split(' ').slice(0, 2));
  });

  it('random_* values stay until a keeper changes', async () => {
    const dir = join(root, 'random');
    const cfg = (k: string) => `
resources:
  random_id:
    i: {byte_length: 6, keepers: {k: "${k}"}}
  random_string:
    s: {length: 12, special: false, keepers: {k: "${k}"}}
  random_integer:
    n: {min: 1, max: 1000000}
  random_pet:
    p: {length: 3, separator: "_"}
`;
    const a1 = await apply(dir, cfg('1'));
    expect(a1('random_id.i').hex).toMatch(/^[0-9a-f]{12}$/);
    expect(a1('random_string.s').result).toMatch(/^[A-Za-z0-9]{12}$/);
    expect((a1('random_pet.p').id as string).split('_')).toHaveLength(3);
    const a2 = await apply(dir, cfg('1'));
    expect(a2('random_id.i').hex).toBe(a1('random_id.i').hex);
    const a3 = await apply(dir, cfg('2'));
    expect(a3('random_id.i').hex).not.toBe(a1('random_id.i').hex);
    expect(a3('random_string.s').result).not.toBe(a1('random_string.s').result);
    expect(a3('random_integer.n').result).toBe(a1('random_integer.n').result);
  });

  it('inventory writes a file drover reads as Ansible does', async () => {
    const dir = join(root, 'inventory');
    const a = await apply(
      dir,
      `
resources:
  inventory:
    hosts:
      filename: out/hosts.yml
      hosts:
        - {name: web-0, address: 127.0.0.1, port: 2201, user: deploy, private_key_file: /k/id, groups: [web, eu]}
        - {name: db-0, address: 127.0.0.2, groups: [db], vars: {role: primary}}
      groups:
        web: {vars: {http_port: 8080}}
        prod: {children: [web, db]}
      vars: {ansible_python_interpreter: /usr/bin/python3}
`,
    );
    expect(a('inventory.hosts').content).toBe(readFileSync(join(dir, 'out/hosts.yml'), 'utf8'));
    const inv = await loadInventory({ sources: [join(dir, 'out/hosts.yml')] });
    const web = inv.hostVars('web-0') as Record<string, unknown>;
    expect(web).toMatchObject({
      ansible_host: '127.0.0.1',
      ansible_port: 2201,
      ansible_user: 'deploy',
      ansible_ssh_private_key_file: '/k/id',
      http_port: 8080,
      ansible_python_interpreter: '/usr/bin/python3',
    });
    expect(inv.hostVars('db-0')).toMatchObject({ ansible_host: '127.0.0.2', role: 'primary' });
    expect(inv.selectHosts('prod').sort()).toEqual(['db-0', 'web-0']);
  });
});
