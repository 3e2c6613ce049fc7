/**
 * The part of OpenSSH's ssh_config(5) that decides where and how to connect:
 * Host blocks (patterns, `!` negation), first obtained value wins, IdentityFile
 * accumulates, basic Include. Match blocks are skipped with a note.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { matchPatternList } from './known-hosts.js';
import type { HostKeyChecking } from './types.js';

export interface SshConfigLine {
  keyword: string; // lower-cased
  args: string[];
  file: string;
  line: number;
}

export interface SshHostConfig {
  hostName?: string;
  port?: number;
  user?: string;
  /** Raw (unexpanded) paths, in order; expand with `expandSshTokens`. */
  identityFiles: string[];
  /** Undefined: not set; empty: `ProxyJump none`. */
  proxyJump?: string[];
  strictHostKeyChecking?: HostKeyChecking;
  userKnownHostsFiles?: string[];
  connectTimeoutMs?: number;
  hashKnownHosts?: boolean;
  /** Things the config said that drover does not act on. */
  notes: string[];
}

/** Split a config line into words, honouring double quotes as ssh does. */
function words(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let has = false;
  for (const c of text) {
    if (c === '"') {
      quoted = !quoted;
      has = true;
    } else if (!quoted && /\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

export function parseSshConfig(text: string, file = 'ssh_config'): SshConfigLine[] {
  const out: SshConfigLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    // `Keyword value`, `Keyword=value` and `Keyword = value` are all accepted.
    const m =
      /^([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+)(.*)$/.exec(raw) ?? /^([A-Za-z][A-Za-z0-9]*)()$/.exec(raw);
    if (!m) continue;
    out.push({ keyword: m[1]!.toLowerCase(), args: words(m[2]!), file, line: i + 1 });
  }
  return out;
}

export interface ResolveOptions {
  /** Config files to read, in order (first value wins across them too). Default ~/.ssh/config, then /etc/ssh/ssh_config, as ssh reads them. */
  files?: string[];
  /** Config text instead of files (tests). */
  text?: string;
  home?: string;
}

function expandTilde(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return p;
}

/**
 * Files an `Include` argument names, `*`/`?` globs in the last part. Relative paths are in
 * ~/.ssh for a user config and in /etc/ssh for the system one, as ssh_config(5) says.
 */
function includeTargets(arg: string, home: string, system: boolean): string[] {
  const path = expandTilde(arg, home);
  const abs = isAbsolute(path) ? path : join(system ? '/etc/ssh' : join(home, '.ssh'), path);
  const dir = dirname(abs);
  const base = abs.slice(dir.length + 1);
  if (!/[*?]/.test(base)) return [abs];
  const re = new RegExp(
    `^${base
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.')}$`,
  );
  try {
    const st = statSync(dir, { throwIfNoEntry: false });
    if (!st) return [];
    const key = `${abs}\0${st.mtimeMs}`;
    let hit = globs.get(key);
    if (!hit) {
      hit = readdirSync(dir)
        .filter((f) => re.test(f))
        .sort()
        .map((f) => join(dir, f));
      globs.set(key, hit);
    }
    return hit;
  } catch {
    return [];
  }
}

/** Parsed files by path, reused while size and mtime hold: every host of a run reads the same files. */
const parsed = new Map<string, { mtimeMs: number; size: number; lines: SshConfigLine[] }>();

const globs = new Map<string, string[]>();

function readLines(file: string): SshConfigLine[] {
  try {
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st) return [];
    const hit = parsed.get(file);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.lines;
    const lines = parseSshConfig(readFileSync(file, 'utf8'), file);
    parsed.set(file, { mtimeMs: st.mtimeMs, size: st.size, lines });
    return lines;
  } catch {
    return []; // a missing config file is no config, as with ssh
  }
}

function mapStrict(v: string): HostKeyChecking | undefined {
  switch (v.toLowerCase()) {
    case 'yes':
    case 'ask': // nobody can answer a prompt in a fleet run; ask behaves like yes
      return 'strict';
    case 'accept-new':
      return 'accept-new';
    case 'no':
    case 'off':
      return 'off';
    default:
      return undefined;
  }
}

/** Resolve the options ssh would use to reach `host` (the name given to ssh, i.e. ansible_host). */
export function resolveSshConfig(host: string, opts: ResolveOptions = {}): SshHostConfig {
  const home = opts.home ?? homedir();
  const result: SshHostConfig = { identityFiles: [], notes: [] };
  const seen = new Set<string>();
  const visit = (lines: SshConfigLine[], depth: number, system: boolean): void => {
    let active = true; // lines before the first Host apply to every host
    for (const l of lines) {
      if (l.keyword === 'host') {
        active = matchPatternList(host, l.args);
        continue;
      }
      if (l.keyword === 'match') {
        active = false;
        result.notes.push(`${l.file}:${l.line}: Match blocks are not supported by drover and were ignored`);
        continue;
      }
      if (!active) continue;
      if (l.keyword === 'include') {
        if (depth > 16) {
          result.notes.push(`${l.file}:${l.line}: Include nested too deeply, ignored`);
          continue;
        }
        for (const a of l.args)
          for (const f of includeTargets(a, home, system)) visit(readLines(f), depth + 1, system);
        continue;
      }
      const v = l.args[0];
      if (v === undefined) continue;
      if (l.keyword === 'identityfile') {
        result.identityFiles.push(...l.args);
        continue;
      }
      if (seen.has(l.keyword)) continue;
      seen.add(l.keyword);
      switch (l.keyword) {
        case 'hostname':
          result.hostName = v.replaceAll('%h', host).replaceAll('%%', '%');
          break;
        case 'port': {
          const n = Number(v);
          if (Number.isInteger(n) && n > 0 && n < 65536) result.port = n;
          else result.notes.push(`${l.file}:${l.line}: bad Port ${v}, ignored`);
          break;
        }
        case 'user':
          result.user = v;
          break;
        case 'proxyjump':
          result.proxyJump = v.toLowerCase() === 'none' ? [] : v.split(',').filter(Boolean);
          break;
        case 'stricthostkeychecking': {
          const m = mapStrict(v);
          if (m) result.strictHostKeyChecking = m;
          break;
        }
        case 'userknownhostsfile':
          result.userKnownHostsFiles = l.args
            .filter((a) => a.toLowerCase() !== 'none')
            .map((a) => expandTilde(a, home));
          break;
        case 'connecttimeout': {
          const n = Number(v);
          if (Number.isFinite(n) && n > 0) result.connectTimeoutMs = n * 1000;
          break;
        }
        case 'hashknownhosts':
          if (/^(yes|no)$/i.test(v)) result.hashKnownHosts = v.toLowerCase() === 'yes';
          break;
        case 'proxycommand':
          if (v.toLowerCase() !== 'none')
            result.notes.push(`${l.file}:${l.line}: ProxyCommand is not supported by drover (use ProxyJump)`);
          break;
        default:
          seen.delete(l.keyword); // keywords drover ignores do not count as obtained
      }
    }
  };
  if (opts.text !== undefined) visit(parseSshConfig(opts.text, 'ssh_config'), 0, false);
  for (const f of opts.files ?? [join(home, '.ssh', 'config'), '/etc/ssh/ssh_config']) {
    visit(readLines(f), 0, f.startsWith('/etc/ssh/'));
  }
  return result;
}

export interface TokenContext {
  host: string; // %h: the resolved HostName
  port: number; // %p
  remoteUser: string; // %r
  originalHost?: string; // %n
  localUser?: string; // %u
  home?: string; // %d
}

/** Expand `~` and ssh's `%` tokens in IdentityFile-like paths. */
export function expandSshTokens(path: string, ctx: TokenContext): string {
  const home = ctx.home ?? homedir();
  const localUser = ctx.localUser ?? userInfo().username;
  const expanded = path.replace(/%([%hprnud])/g, (_m, t: string) => {
    switch (t) {
      case '%':
        return '%';
      case 'h':
        return ctx.host;
      case 'p':
        return String(ctx.port);
      case 'r':
        return ctx.remoteUser;
      case 'n':
        return ctx.originalHost ?? ctx.host;
      case 'u':
        return localUser;
      default:
        return home;
    }
  });
  return expandTilde(expanded, home);
}
