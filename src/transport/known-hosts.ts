/**
 * OpenSSH known_hosts parsing and host key verification with Ansible's
 * `host_key_checking` semantics (strict / accept-new / off).
 */

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import type { HostKeyChecking } from './types.js';

export interface KnownHostEntry {
  marker?: 'revoked' | 'cert-authority';
  /** Plain patterns (`host`, `[host]:port`, wildcards, `!negated`), or empty for a hashed entry. */
  patterns: string[];
  /** For `|1|salt|hash` entries. */
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  key: Buffer;
  file: string;
  line: number;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** `SHA256:...` as `ssh-keygen -lf` and ssh print it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name stored at the start of an SSH wire-format public key blob. */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const n = key.readUInt32BE(0);
  return key.subarray(4, 4 + n).toString('latin1');
}

export function parseKnownHosts(text: string, file = 'known_hosts'): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]!.startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else continue; // unknown marker: OpenSSH ignores the line
    }
    if (fields.length < 3) continue;
    const [hosts, keyType, keyB64] = fields as [string, string, string];
    const key = Buffer.from(keyB64, 'base64');
    if (key.length === 0) continue;
    const entry: KnownHostEntry = { patterns: [], keyType, key, file, line: i + 1 };
    if (marker) entry.marker = marker;
    if (hosts.startsWith('|1|')) {
      const [, , salt, hash] = hosts.split('|');
      if (!salt || !hash) continue;
      entry.hashed = { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
    } else {
      entry.patterns = hosts.split(',').filter(Boolean);
    }
    entries.push(entry);
  }
  return entries;
}

const compiled = new Map<string, RegExp>();

function globToRegExp(pattern: string): RegExp {
  const hit = compiled.get(pattern);
  if (hit) return hit;
  const re = compileGlob(pattern);
  if (compiled.size < 10_000) compiled.set(pattern, re);
  return re;
}

function compileGlob(pattern: string): RegExp {
  const body = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 'i');
}

/** OpenSSH pattern-list semantics: a negated match vetoes, otherwise any positive match wins. */
export function matchPatternList(name: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (globToRegExp(p.slice(1)).test(name)) return false;
    } else if (globToRegExp(p).test(name)) {
      matched = true;
    }
  }
  return matched;
}

export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.hashed) {
    const h = createHmac('sha1', entry.hashed.salt).update(name).digest();
    return h.equals(entry.hashed.hash);
  }
  return matchPatternList(name, entry.patterns);
}

/** `|1|salt|hash` for a name, as `ssh-keygen -H` writes it. */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const h = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${h.toString('base64')}`;
}

export type HostKeyVerdict =
  | { ok: true; added?: string; reason?: string }
  | { ok: false; reason: 'changed' | 'unknown' | 'revoked'; message: string; hint: string };

export function defaultKnownHostsFiles(home: string = homedir()): string[] {
  return [`${home}/.ssh/known_hosts`, `${home}/.ssh/known_hosts2`, '/etc/ssh/ssh_known_hosts'];
}

/** Parsed files by path, reused while size and mtime are unchanged (1000 handshakes, one parse). */
const parsedFiles = new Map<string, { mtimeMs: number; size: number; entries: KnownHostEntry[] }>();

export async function loadKnownHosts(files: readonly string[]): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = [];
  for (const f of files) {
    let st: { mtimeMs: number; size: number };
    try {
      st = await stat(f);
    } catch {
      continue; // a missing file simply knows no hosts, as with ssh
    }
    const hit = parsedFiles.get(f);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) {
      all.push(...hit.entries);
      continue;
    }
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch {
      continue;
    }
    const entries = parseKnownHosts(text, f);
    parsedFiles.set(f, { mtimeMs: st.mtimeMs, size: st.size, entries });
    all.push(...entries);
  }
  return all;
}

/** Key types known for a host, to ask the server for a key we can check (as ssh does). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  const types: string[] = [];
  for (const e of entries) {
    if (e.marker) continue;
    if (entryMatches(e, name) && !types.includes(e.keyType)) types.push(e.keyType);
  }
  return types;
}

/**
 * Check `key` presented by `host:port` against `entries`. Pure: the caller adds the key
 * to a file for accept-new (see `verifyHostKey`).
 */
export function checkHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  key: Buffer,
  mode: HostKeyChecking,
  files: readonly string[] = [],
): HostKeyVerdict {
  if (mode === 'off') return { ok: true };
  const name = knownHostsName(host, port);
  const fp = fingerprint(key);
  const type = keyTypeOf(key);
  for (const e of entries) {
    if (e.marker === 'revoked' && e.key.equals(key)) {
      return {
        ok: false,
        reason: 'revoked',
        message: `host key for ${name} (${type} ${fp}) is marked @revoked in ${e.file}:${e.line}`,
        hint: 'the server is using a key you revoked: do not connect until its key is replaced',
      };
    }
  }
  const matching = entries.filter((e) => e.marker === undefined && entryMatches(e, name));
  if (matching.some((e) => e.key.equals(key))) return { ok: true };
  const sameType = matching.find((e) => e.keyType === type);
  const hostArg = knownHostsName(host, port);
  if (sameType) {
    return {
      ok: false,
      reason: 'changed',
      message: `host key for ${name} has CHANGED: the server now offers ${type} ${fp}, which does not match ${sameType.file}:${sameType.line}. Someone may be intercepting the connection, or the host was reinstalled.`,
      hint: `if the change is expected, remove the old key with \`ssh-keygen -R '${hostArg}'${
        sameType.file === `${homedir()}/.ssh/known_hosts` ? '' : ` -f ${sameType.file}`
      }\` and connect again; for throw-away hosts set host_key_checking = False (ANSIBLE_HOST_KEY_CHECKING=False)`,
    };
  }
  if (mode === 'accept-new') return { ok: true, reason: 'new' };
  const where = files.length > 0 ? files.join(', ') : 'known_hosts';
  const others =
    matching.length > 0 ? ` (known key types for it: ${matching.map((e) => e.keyType).join(', ')})` : '';
  return {
    ok: false,
    reason: 'unknown',
    message: `host key for ${name} is not known${others}: the server offers ${type} ${fp}, not found in ${where}`,
    hint: `add it after checking the fingerprint: \`ssh-keyscan ${port === 22 ? '' : `-p ${port} `}${host} >> ~/.ssh/known_hosts\`, or set host_key_checking = accept-new / False (ANSIBLE_HOST_KEY_CHECKING=False) for throw-away hosts`,
  };
}

/** Append `key` for host:port to `file` (creating ~/.ssh if needed), as ssh's accept-new does. */
export async function addKnownHost(
  file: string,
  host: string,
  port: number,
  key: Buffer,
  hash = false,
): Promise<string> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const name = knownHostsName(host, port);
  const line = `${hash ? hashHostName(name) : name} ${keyTypeOf(key)} ${key.toString('base64')}\n`;
  await appendFile(file, line, { mode: 0o600 });
  return line;
}

/**
 * Serialises accept-new writes per file, so 1000 hosts connecting at once do not
 * interleave lines, and re-reads so a key added meanwhile for the same host is honoured.
 */
const writeLocks = new Map<string, Promise<unknown>>();

export async function verifyHostKey(
  host: string,
  port: number,
  key: Buffer,
  mode: HostKeyChecking,
  files: readonly string[] = defaultKnownHostsFiles(),
  opts: { hash?: boolean } = {},
): Promise<HostKeyVerdict> {
  if (mode === 'off') return { ok: true };
  const verdict = checkHostKey(await loadKnownHosts(files), host, port, key, mode, files);
  if (!verdict.ok || verdict.reason !== 'new') return verdict;
  const target = files[0];
  if (!target) return verdict;
  const prev = writeLocks.get(target) ?? Promise.resolve();
  const next = prev.then(async (): Promise<HostKeyVerdict> => {
    const again = checkHostKey(await loadKnownHosts(files), host, port, key, mode, files);
    if (!again.ok || again.reason !== 'new') return again;
    await addKnownHost(target, host, port, key, opts.hash ?? false);
    return { ok: true, added: target };
  });
  writeLocks.set(
    target,
    next.catch(() => undefined),
  );
  return next;
}
