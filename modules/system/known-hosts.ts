/**
 * known_hosts: one round trip asks the target's `ssh-keygen -F` which lines match the host
 * (so patterns, ports and hashed entries are matched by OpenSSH itself) and reads the file;
 * the decision and the diff follow ansible.builtin.known_hosts (one found line replaced or
 * removed, a new key appended), and a second round trip writes the file atomically.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { RunResult } from '../../src/transport/types.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { buildScript, fileContent, pathInfo, readAnswer, readFileSh, WRITE_STDIN } from './remote-sh.js';

export interface KnownHostsArgs {
  name: string;
  key?: string;
  path: string;
  hash_host: boolean;
  state: 'absent' | 'present';
}

interface NormKey {
  host: string;
  type: string;
  key: string;
  options?: string;
}

/** ansible's normalize_known_hosts_key: optional @marker, then host, type, key; comment dropped. */
export function normalizeKnownHostsKey(line: string): NormKey {
  const parts = line.trim().split(/\s+/);
  if (parts[0]?.startsWith('@')) {
    return { options: parts[0], host: parts[1] ?? '', type: parts[2] ?? '', key: parts[3] ?? '' };
  }
  return { host: parts[0] ?? '', type: parts[1] ?? '', key: parts[2] ?? '' };
}

export function hashHostKey(host: string, key: string, salt: Buffer = randomBytes(20)): string {
  const hashed = createHmac('sha1', salt).update(host).digest();
  const parts = key.trim().split(/\s+/);
  const i = parts[0]?.startsWith('@') ? 1 : 0;
  parts[i] = `|1|${salt.toString('base64')}|${hashed.toString('base64')}`;
  return parts.join(' ');
}

/** Does the key's host field name `host` (plain comma list or |1| hash)? */
export function hostFieldMatches(field: string, host: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt = '', hash = ''] = field.split('|');
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(host).digest('base64') === hash;
  }
  return field
    .toLowerCase()
    .split(',')
    .some((h) => h === host);
}

export interface KnownHostsDecision {
  found: boolean;
  replaceOrAdd: boolean;
  foundLine: number | undefined;
}

/** ansible's search_for_host_key over `ssh-keygen -F` output. */
export function searchHostKey(
  keygenOut: string,
  key: string | undefined,
  exists: boolean,
): KnownHostsDecision {
  if (!exists || keygenOut === '') return { found: false, replaceOrAdd: false, foundLine: undefined };
  if (!key) return { found: true, replaceOrAdd: false, foundLine: undefined };
  const want = normalizeKnownHostsKey(key);
  let foundLine: number | undefined;
  for (const l of keygenOut.split('\n')) {
    if (l === '') continue;
    if (l.startsWith('#')) {
      const m = /found: line (\d+)/.exec(l);
      if (m) foundLine = Number(m[1]);
      continue;
    }
    const got = normalizeKnownHostsKey(l);
    if (want.host.startsWith('|1|') && got.host.startsWith('|1|')) want.host = got.host;
    if (
      want.host === got.host &&
      want.type === got.type &&
      want.key === got.key &&
      want.options === got.options
    ) {
      return { found: true, replaceOrAdd: false, foundLine };
    }
    if (want.type === got.type) return { found: true, replaceOrAdd: true, foundLine };
  }
  return { found: true, replaceOrAdd: true, foundLine: undefined };
}

const READ = `case "$path" in "~/"*) path=$HOME/\${path#"~/"};; "~") path=$HOME;; esac
d_emit path "$path"
d_has ssh-keygen || d_fail "Failed to find required executable \\"ssh-keygen\\" in paths: $PATH"
${readFileSh('content', '"$path"')}
if [ -f "$path" ]; then
  out=$(ssh-keygen -F "$host" -f "$path" 2>&1); rc=$?
  if [ $rc -gt 1 ]; then d_fail "Failed to search for host key: $out"; fi
  d_emit found "$out"
fi
dr_stat st_ "$path"`;

const WRITE = `dest=$path
if [ ! -d "$(dirname "$dest")" ]; then mkdir -p "$(dirname "$dest")" && chmod 700 "$(dirname "$dest")" || d_fail "Failed to create $(dirname "$dest")"; fi
${WRITE_STDIN}
dr_stat st_ "$dest"`;

export function planKnownHosts(a: KnownHostsArgs, ctx: PlanContext): Step | TaskResult {
  const host = a.name.toLowerCase();
  let key = a.key;
  if (!key && a.state !== 'absent') return { failed: true, msg: 'No key specified when adding a host' };
  if (key) {
    const field = normalizeKnownHostsKey(key).host;
    if (!hostFieldMatches(field, host)) {
      return {
        failed: true,
        // Ansible's wording for both plain and hashed host fields.
        msg: 'Host parameter does not match hashed host field in supplied key',
      };
    }
    if (a.hash_host && !field.startsWith('|1|')) key = hashHostKey(host, key);
    if (!key.endsWith('\n')) key += '\n';
  }
  return {
    script: buildScript(ctx.check, { path: a.path, host }, READ),
    parse(r: RunResult): TaskResult | Step {
      const { report, failure } = readAnswer(r, 'known_hosts');
      if (failure) return failure;
      const path = report.get('path') ?? a.path;
      const content = fileContent(report, 'content');
      const keygen = report.get('found') ?? '';
      const d = searchHostKey(keygen, key, content !== undefined);
      const lines = (content ?? '').match(/[^\n]*\n|[^\n]+$/g) ?? [];
      const diff = {
        before_header: content === undefined ? '/dev/null' : path,
        after_header: path,
        before: content ?? '',
        after: '',
      };
      const out = [...lines];
      if (
        (d.replaceOrAdd || a.state === 'absent') &&
        d.foundLine !== undefined &&
        d.foundLine <= out.length
      ) {
        out.splice(d.foundLine - 1, 1);
      }
      if (a.state === 'present' && (d.replaceOrAdd || d.foundLine === undefined)) out.push(key ?? '');
      diff.after = out.join('');
      const base: TaskResult = {
        name: a.name,
        key: a.key ?? null,
        path,
        hash_host: a.hash_host,
        state: a.state,
      };
      if (a.state === 'absent' && d.foundLine === undefined && key) {
        return { ...base, changed: false, diff, ...pathInfo(report, 'st_') };
      }
      let newContent: string | undefined;
      if (d.found && !key && a.state === 'absent') {
        // ssh-keygen -R removes every entry of the host: drop every line -F reported.
        const drop = new Set([...keygen.matchAll(/found: line (\d+)/g)].map((m) => Number(m[1])));
        // Ansible computes the diff before running -R, so its `after` shows no removal; kept as is.
        newContent = lines.filter((_, i) => !drop.has(i + 1)).join('');
      } else if (d.replaceOrAdd || d.found !== (a.state === 'present')) {
        newContent = diff.after;
      }
      const changed = newContent !== undefined;
      const res: TaskResult = { ...base, changed };
      if (ctx.diff) res.diff = diff;
      if (!changed || ctx.check) return { ...res, ...pathInfo(report, 'st_') };
      return {
        script: buildScript(
          false,
          { path, mode: content === undefined ? '644' : '', owner: '', mkdirs: '1' },
          WRITE,
        ),
        stdin: newContent,
        parse(w: RunResult): TaskResult {
          const ans = readAnswer(w, 'known_hosts');
          return ans.failure ?? { ...res, ...pathInfo(ans.report, 'st_') };
        },
      };
    },
  };
}

export const knownHosts: Module<KnownHostsArgs> = {
  names: ['known_hosts', 'ansible.builtin.known_hosts'],
  check: 'full',
  diff: true,
  args: {
    options: {
      name: { type: 'str', required: true, aliases: ['host'] },
      key: { type: 'str', noLog: false },
      path: { type: 'path', default: '~/.ssh/known_hosts' },
      hash_host: { type: 'bool', default: false },
      state: { type: 'str', default: 'present', choices: ['absent', 'present'] },
    },
  },
  plan: planKnownHosts,
};
