/**
 * Keys: `tls_private_key` (node crypto, as Terraform's tls provider) and `ssh_keypair`
 * (ssh-keygen, written to files an inventory can point `ansible_ssh_private_key_file` at).
 */
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type { AttrSchema, Attrs, Provider, ResourceType } from '../provider.js';
import { configPath, num, str, withDefaults } from './util.js';

const run = promisify(execFile);

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function sshMpint(b64url: string): Buffer {
  let b = Buffer.from(b64url, 'base64url');
  if (b.length > 0 && (b[0]! & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return sshString(b);
}

/** The OpenSSH `authorized_keys` line of a public key (RSA, Ed25519, ECDSA P-256). */
export function opensshPublicKey(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' }) as {
    kty: string;
    crv?: string;
    x?: string;
    y?: string;
    n?: string;
    e?: string;
  };
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    const blob = Buffer.concat([
      sshString(Buffer.from('ssh-ed25519')),
      sshString(Buffer.from(jwk.x!, 'base64url')),
    ]);
    return `ssh-ed25519 ${blob.toString('base64')}`;
  }
  if (jwk.kty === 'RSA') {
    const blob = Buffer.concat([sshString(Buffer.from('ssh-rsa')), sshMpint(jwk.e!), sshMpint(jwk.n!)]);
    return `ssh-rsa ${blob.toString('base64')}`;
  }
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x!, 'base64url'),
    Buffer.from(jwk.y!, 'base64url'),
  ]);
  const blob = Buffer.concat([
    sshString(Buffer.from('ecdsa-sha2-nistp256')),
    sshString(Buffer.from('nistp256')),
    sshString(point),
  ]);
  return `ecdsa-sha2-nistp256 ${blob.toString('base64')}`;
}

const tlsAttrs: Record<string, AttrSchema> = {
  algorithm: { type: 'string', optional: true, forceNew: true, default: 'RSA' },
  rsa_bits: { type: 'number', optional: true, forceNew: true, default: 2048 },
  ecdsa_curve: { type: 'string', optional: true, forceNew: true, default: 'P256' },
  private_key_pem: { type: 'string', computed: true, sensitive: true },
  public_key_pem: { type: 'string', computed: true },
  public_key_openssh: { type: 'string', computed: true },
  public_key_fingerprint_sha256: { type: 'string', computed: true },
  id: { type: 'string', computed: true },
};

const tlsPrivateKey: ResourceType = {
  schema: { type: 'tls_private_key', attributes: { ...tlsAttrs } },
  validate(c) {
    if (c.algorithm !== undefined && !['RSA', 'ECDSA', 'ED25519'].includes(String(c.algorithm)))
      return [
        {
          attribute: 'algorithm',
          message: `algorithm must be one of RSA, ECDSA, ED25519, not ${String(c.algorithm)}`,
        },
      ];
    if (c.ecdsa_curve !== undefined && c.ecdsa_curve !== 'P256')
      return [{ attribute: 'ecdsa_curve', message: 'only P256 is supported' }];
    return [];
  },
  plan(config) {
    return withDefaults(config, tlsAttrs);
  },
  async create(config) {
    const a = withDefaults(config, tlsAttrs);
    const alg = str(a, 'algorithm', 'RSA');
    const pair =
      alg === 'ED25519'
        ? generateKeyPairSync('ed25519')
        : alg === 'ECDSA'
          ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
          : generateKeyPairSync('rsa', { modulusLength: num(a, 'rsa_bits', 2048) });
    const openssh = opensshPublicKey(pair.publicKey);
    const fp = createHash('sha256')
      .update(Buffer.from(openssh.split(' ')[1]!, 'base64'))
      .digest('base64')
      .replace(/=+$/, '');
    return {
      ...a,
      private_key_pem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      public_key_pem: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      public_key_openssh: `${openssh}\n`,
      public_key_fingerprint_sha256: `SHA256:${fp}`,
      id: fp,
    };
  },
  async read(state) {
    return state;
  },
  async delete() {},
};

const sshAttrs: Record<string, AttrSchema> = {
  path: {
    type: 'string',
    required: true,
    forceNew: true,
    description: 'private key file; the public key goes to PATH.pub',
  },
  key_type: { type: 'string', optional: true, forceNew: true, default: 'ed25519' },
  comment: { type: 'string', optional: true, forceNew: true, default: 'drover' },
  private_key: { type: 'string', computed: true, sensitive: true },
  public_key: { type: 'string', computed: true },
  private_key_file: { type: 'string', computed: true },
  public_key_file: { type: 'string', computed: true },
  fingerprint: { type: 'string', computed: true },
  id: { type: 'string', computed: true },
};

const sshKeypair: ResourceType = {
  schema: {
    type: 'ssh_keypair',
    description: 'an OpenSSH key pair written to files',
    attributes: { ...sshAttrs },
  },
  validate(c) {
    if (c.key_type !== undefined && !['ed25519', 'rsa', 'ecdsa'].includes(String(c.key_type)))
      return [
        {
          attribute: 'key_type',
          message: `key_type must be ed25519, rsa or ecdsa, not ${String(c.key_type)}`,
        },
      ];
    return [];
  },
  plan(config, _prior) {
    return withDefaults(config, sshAttrs);
  },
  async create(config, ctx) {
    const a = withDefaults(config, sshAttrs);
    const path = configPath(ctx.dir, str(a, 'path'));
    mkdirSync(dirname(path), { recursive: true });
    rmSync(path, { force: true });
    rmSync(`${path}.pub`, { force: true });
    await run('ssh-keygen', [
      '-q',
      '-t',
      str(a, 'key_type', 'ed25519'),
      '-N',
      '',
      '-C',
      str(a, 'comment', 'drover'),
      '-f',
      path,
    ]);
    const { stdout } = await run('ssh-keygen', ['-l', '-f', `${path}.pub`]);
    const fingerprint = stdout.split(' ')[1] ?? '';
    return {
      ...a,
      private_key: readFileSync(path, 'utf8'),
      public_key: readFileSync(`${path}.pub`, 'utf8').trim(),
      private_key_file: path,
      public_key_file: `${path}.pub`,
      fingerprint,
      id: fingerprint,
    };
  },
  async read(state, ctx) {
    const path = configPath(ctx.dir, str(state, 'path'));
    if (!existsSync(path) || !existsSync(`${path}.pub`)) return undefined;
    if (readFileSync(`${path}.pub`, 'utf8').trim() !== state.public_key) return undefined;
    return state;
  },
  async delete(state, ctx) {
    const path = configPath(ctx.dir, str(state, 'path'));
    rmSync(path, { force: true });
    rmSync(`${path}.pub`, { force: true });
  },
  async import(id, ctx): Promise<Attrs> {
    const path = configPath(ctx.dir, id);
    const { stdout } = await run('ssh-keygen', ['-l', '-f', `${path}.pub`]);
    const parts = stdout.trim().split(' ');
    const pub = readFileSync(`${path}.pub`, 'utf8').trim();
    return {
      path: id,
      key_type: pub.startsWith('ssh-rsa') ? 'rsa' : pub.startsWith('ecdsa') ? 'ecdsa' : 'ed25519',
      comment: pub.split(' ').slice(2).join(' '),
      private_key: readFileSync(path, 'utf8'),
      public_key: pub,
      private_key_file: path,
      public_key_file: `${path}.pub`,
      fingerprint: parts[1] ?? '',
      id: parts[1] ?? '',
    };
  },
};

export const tlsProvider: Provider = { name: 'tls', resources: [tlsPrivateKey, sshKeypair] };
