import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkHostKey,
  entryMatches,
  fingerprint,
  hashHostName,
  keyTypeOf,
  knownKeyTypes,
  loadKnownHosts,
  matchPatternList,
  parseKnownHosts,
  verifyHostKey,
} from '../../../src/transport/known-hosts.js';

let dir: string;
const keys: Record<string, { line: string; blob: Buffer; fp: string }> = {};

function genKey(name: string, type: string): void {
  const f = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', f]);
  const line = readFileSync(`${f}.pub`, 'utf8').trim();
  const [, b64] = line.split(/\s+/) as [string, string];
  const fp = execFileSync('ssh-keygen', ['-l', '-f', `${f}.pub`], { encoding: 'utf8' }).split(/\s+/)[1]!;
  keys[name] = { line: line.split(/\s+/).slice(0, 2).join(' '), blob: Buffer.from(b64, 'base64'), fp };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'drover-kh-'));
  genKey('a', 'ed25519');
  genKey('b', 'ed25519');
  genKey('c', 'ecdsa');
  genKey('r', 'rsa');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('known_hosts parsing and matching', () => {
  it('computes the same fingerprint and key type as ssh-keygen', () => {
    expect(fingerprint(keys.a!.blob)).toBe(keys.a!.fp);
    expect(fingerprint(keys.r!.blob)).toBe(keys.r!.fp);
    expect(keyTypeOf(keys.a!.blob)).toBe('ssh-ed25519');
    expect(keyTypeOf(keys.c!.blob)).toBe('ecdsa-sha2-nistp256');
  });

  it('matches entries hashed by ssh-keygen -H, for plain and [host]:port names', () => {
    const f = join(dir, 'hashed_known_hosts');
    writeFileSync(f, `web1.example.com ${keys.a!.line}\n[127.0.0.1]:22001 ${keys.b!.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' });
    const text = readFileSync(f, 'utf8');
    expect(text).not.toContain('web1.example.com');
    const entries = parseKnownHosts(text, f);
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.hashed)).toBe(true);
    expect(entryMatches(entries[0]!, 'web1.example.com')).toBe(true);
    expect(entryMatches(entries[0]!, 'web2.example.com')).toBe(false);
    expect(entryMatches(entries[1]!, '[127.0.0.1]:22001')).toBe(true);
    expect(entryMatches(entries[1]!, '127.0.0.1')).toBe(false);
    expect(checkHostKey(entries, '127.0.0.1', 22001, keys.b!.blob, 'strict')).toEqual({ ok: true });
    expect(checkHostKey(entries, 'web1.example.com', 22, keys.a!.blob, 'strict')).toEqual({ ok: true });
  });

  it('our hashing is what ssh-keygen -F finds', () => {
    const f = join(dir, 'ours_known_hosts');
    writeFileSync(f, `${hashHostName('[10.1.2.3]:2222')} ${keys.a!.line}\n`);
    const out = execFileSync('ssh-keygen', ['-F', '[10.1.2.3]:2222', '-f', f], { encoding: 'utf8' });
    expect(out).toContain('found');
  });

  it('handles comma lists, wildcards, negation and markers', () => {
    const text = [
      '# comment',
      `alpha,beta.example.com,[gamma]:2200 ${keys.a!.line}`,
      `*.web.example.com,!bad.web.example.com ${keys.b!.line}`,
      `@cert-authority *.example.com ${keys.c!.line}`,
      `@revoked * ${keys.r!.line}`,
      'garbage',
    ].join('\n');
    const e = parseKnownHosts(text);
    expect(e).toHaveLength(4);
    expect(checkHostKey(e, 'beta.example.com', 22, keys.a!.blob, 'strict').ok).toBe(true);
    expect(checkHostKey(e, 'gamma', 2200, keys.a!.blob, 'strict').ok).toBe(true);
    expect(checkHostKey(e, 'gamma', 22, keys.a!.blob, 'strict').ok).toBe(false);
    expect(checkHostKey(e, 'x.web.example.com', 22, keys.b!.blob, 'strict').ok).toBe(true);
    expect(checkHostKey(e, 'bad.web.example.com', 22, keys.b!.blob, 'strict').ok).toBe(false);
    // A CA key is not a host key: it must not make the host "known".
    expect(checkHostKey(e, 'ca.example.com', 22, keys.c!.blob, 'strict').ok).toBe(false);
    const revoked = checkHostKey(e, 'alpha', 22, keys.r!.blob, 'off');
    expect(revoked.ok).toBe(true); // off checks nothing
    const rv = checkHostKey(e, 'alpha', 22, keys.r!.blob, 'accept-new');
    expect(rv.ok).toBe(false);
    if (!rv.ok) expect(rv.reason).toBe('revoked');
    expect(matchPatternList('a', ['!a'])).toBe(false);
    expect(matchPatternList('host7', ['host?'])).toBe(true);
    expect(knownKeyTypes(e, 'alpha', 22)).toEqual(['ssh-ed25519']);
  });

  it('refuses a changed key with the fingerprint and the ssh-keygen -R fix', () => {
    const e = parseKnownHosts(`[127.0.0.1]:22001 ${keys.a!.line}\n`, '/x/known_hosts');
    for (const mode of ['strict', 'accept-new'] as const) {
      const v = checkHostKey(e, '127.0.0.1', 22001, keys.b!.blob, mode);
      expect(v.ok).toBe(false);
      if (v.ok) return;
      expect(v.reason).toBe('changed');
      expect(v.message).toContain('CHANGED');
      expect(v.message).toContain(keys.b!.fp);
      expect(v.message).toContain('/x/known_hosts:1');
      expect(v.hint).toContain("ssh-keygen -R '[127.0.0.1]:22001'");
      expect(v.hint).toContain('host_key_checking = False');
    }
  });

  it('refuses an unknown host under strict with the ssh-keyscan fix', () => {
    const v = checkHostKey([], '127.0.0.1', 22005, keys.a!.blob, 'strict', ['/k']);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.reason).toBe('unknown');
    expect(v.message).toContain(keys.a!.fp);
    expect(v.hint).toContain('ssh-keyscan -p 22005 127.0.0.1 >> ~/.ssh/known_hosts');
  });

  it('accept-new with HashKnownHosts writes a hashed name that ssh-keygen -F finds', async () => {
    const f = join(dir, 'accept_new_hashed');
    expect((await verifyHostKey('10.9.8.7', 2222, keys.a!.blob, 'accept-new', [f], { hash: true })).ok).toBe(
      true,
    );
    const text = readFileSync(f, 'utf8');
    expect(text).toMatch(/^\|1\|[^ ]+ ssh-ed25519 /);
    expect(text).not.toContain('10.9.8.7');
    expect(execFileSync('ssh-keygen', ['-F', '[10.9.8.7]:2222', '-f', f], { encoding: 'utf8' })).toContain(
      'found',
    );
    expect(await verifyHostKey('10.9.8.7', 2222, keys.a!.blob, 'strict', [f])).toEqual({ ok: true });
  });

  it('accept-new appends the key once, then strict accepts it', async () => {
    const f = join(dir, 'accept_new');
    const results = await Promise.all(
      Array.from({ length: 5 }, () => verifyHostKey('127.0.0.1', 22009, keys.c!.blob, 'accept-new', [f])),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    const text = readFileSync(f, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(1);
    expect(text).toContain(`[127.0.0.1]:22009 ${keys.c!.line}`);
    expect(await verifyHostKey('127.0.0.1', 22009, keys.c!.blob, 'strict', [f])).toEqual({ ok: true });
    const changed = await verifyHostKey('127.0.0.1', 22009, keys.a!.blob, 'strict', [f]);
    // different key type (ed25519 vs ecdsa): unknown, not changed
    expect(changed.ok).toBe(false);
    // and OpenSSH itself reads the line we wrote
    const out = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:22009', '-f', f], { encoding: 'utf8' });
    expect(out).toContain('found');
    expect((await loadKnownHosts([f, join(dir, 'missing')])).length).toBe(1);
  });
});
