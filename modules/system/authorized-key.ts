/**
 * authorized_key (ansible.posix): the key file is read in one round trip; the merge follows
 * ansible.posix's parsekeys/serialize exactly (keys identified by their base64 blob, lines
 * rewritten as `options type blob comment`, unparsable lines kept); a second round trip
 * writes the file atomically only when it must change.
 */
import type { RunResult } from '../../src/transport/types.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { buildScript, fileContent, pathInfo, readAnswer, readFileSh, WRITE_STDIN } from './remote-sh.js';

export interface AuthorizedKeyArgs {
  user: string;
  key: string;
  path?: string;
  manage_dir: boolean;
  state: 'present' | 'absent';
  key_options?: string;
  exclusive: boolean;
  validate_certs: boolean;
  comment?: string;
  follow: boolean;
}

const KEY_TYPES = new Set([
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'sk-ssh-ed25519@openssh.com',
  'sk-ssh-ed25519-cert-v01@openssh.com',
  'ssh-dss',
  'ssh-dss-cert-v01@openssh.com',
  'ssh-ed25519',
  'ssh-ed25519-cert-v01@openssh.com',
  'ssh-rsa',
  'ssh-rsa-cert-v01@openssh.com',
  'ssh-xmss-cert-v01@openssh.com',
  'ssh-xmss@openssh.com',
]);

type Options = [string, string | null][];

interface ParsedKey {
  blob: string;
  /** 'skipped' for comment and unparsable lines, which are written back verbatim. */
  type: string;
  options: Options;
  comment: string;
  rank: number;
  raw?: string;
}

/** ansible.posix parseoptions: split on commas outside quotes, `k=v` or bare flags. */
export function parseKeyOptions(s: string | undefined): Options {
  const out: Options = [];
  if (!s) return out;
  for (const m of s.matchAll(/(?:[^,"']|"[^"]*"|'[^']*')+/g)) {
    const part = m[0];
    const i = part.indexOf('=');
    if (i >= 0) out.push([part.slice(0, i), part.slice(i + 1)]);
    else out.push([part, null]);
  }
  return out;
}

function optionString(o: Options): string {
  if (o.length === 0) return '';
  return `${o.map(([k, v]) => (v === null ? k : `${k}=${v}`)).join(',')} `;
}

/** ansible.posix parsekey: whitespace-split (quotes not special), find the type, the rest is the comment. */
export function parseKeyLine(line: string, rank: number): ParsedKey | undefined {
  const parts = line.split(/\s+/).filter(Boolean);
  if (parts.length > 0 && parts[0] === '#')
    return { blob: line, type: 'skipped', options: [], comment: '', rank, raw: line };
  const ti = parts.findIndex((p) => KEY_TYPES.has(p));
  if (ti < 0 || ti + 1 >= parts.length) return undefined;
  return {
    blob: parts[ti + 1]!,
    type: parts[ti]!,
    options: parseKeyOptions(ti > 0 ? parts.slice(0, ti).join(' ') : undefined),
    comment: parts.slice(ti + 2).join(' '),
    rank,
  };
}

function sameKey(a: ParsedKey, b: ParsedKey): boolean {
  return (
    a.type === b.type &&
    a.comment === b.comment &&
    JSON.stringify(a.options) === JSON.stringify(b.options) &&
    a.blob === b.blob
  );
}

/** Merge the wanted keys into the existing file text; undefined when nothing changes. */
export function mergeAuthorizedKeys(
  existing: string,
  a: Pick<AuthorizedKeyArgs, 'key' | 'state' | 'exclusive' | 'key_options' | 'comment'>,
): { content: string } | { error: string } | undefined {
  const keys = new Map<string, ParsedKey>();
  const existingLines = existing.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  existingLines.forEach((line, rank) => {
    const k = parseKeyLine(line, rank);
    if (k) keys.set(k.blob, k);
    else keys.set(line, { blob: line, type: 'skipped', options: [], comment: '', rank, raw: line });
  });
  const maxRank = keys.size;
  const wanted = a.key.split(/\r\n|\r|\n/).filter((s) => s && !s.startsWith('#'));
  let write = false;
  const toExist: string[] = [];
  for (const [rank, line] of wanted.entries()) {
    let k = parseKeyLine(line, rank);
    if (!k || k.type === 'skipped') return { error: `invalid key specified: ${line}` };
    if (a.key_options !== undefined) k = { ...k, options: parseKeyOptions(a.key_options) };
    if (a.comment !== undefined) k = { ...k, comment: a.comment };
    const old = keys.get(k.blob);
    let matched = false;
    let nonMatching = false;
    if (old) {
      if (!sameKey(k, old) && a.state === 'present') nonMatching = true;
      else matched = true;
    }
    if (a.state === 'present') {
      toExist.push(k.blob);
      if (nonMatching) {
        keys.delete(k.blob);
        write = true;
      }
      if (!matched) {
        keys.set(k.blob, { ...k, rank: maxRank + k.rank });
        write = true;
      }
    } else if (matched) {
      keys.delete(k.blob);
      write = true;
    }
  }
  if (a.state === 'present' && a.exclusive) {
    for (const blob of [...keys.keys()]) {
      if (!toExist.includes(blob)) {
        keys.delete(blob);
        write = true;
      }
    }
  }
  if (!write) return undefined;
  const ordered = [...keys.values()].sort((x, y) => x.rank - y.rank);
  const content = ordered
    .map((k) =>
      k.type === 'skipped' ? (k.raw ?? '') : `${optionString(k.options)}${k.type} ${k.blob} ${k.comment}\n`,
    )
    .join('');
  return { content };
}

const READ = `home=$( { getent passwd "$user" 2>/dev/null || U="$user" awk -F: '$1==ENVIRON["U"]{print; exit}' /etc/passwd; } | cut -d: -f6)
ids=$( { getent passwd "$user" 2>/dev/null || U="$user" awk -F: '$1==ENVIRON["U"]{print; exit}' /etc/passwd; } | cut -d: -f3,4)
[ -n "$ids" ] || d_fail "Failed to lookup user $user: user does not exist"
if [ -n "$path" ]; then dest=$path; else dest=$home/.ssh/authorized_keys; fi
case "$dest" in "~/"*) dest=$HOME/\${dest#"~/"};; esac
[ -n "$follow" ] && [ -L "$dest" ] && dest=$(readlink -f "$dest")
d_emit keyfile "$dest"
d_set ids "$ids"
${readFileSh('content', '"$dest"')}
dr_stat st_ "$dest"`;

const FETCH = `if [ -n "$key_url" ]; then
  if d_has curl; then k=$(curl -fsSL \${insecure:+-k} -- "$key_url" 2>&1) || d_fail "Error getting key from: $key_url: $k"
  elif d_has wget; then k=$(wget -qO- \${insecure:+--no-check-certificate} -- "$key_url" 2>&1) || d_fail "Error getting key from: $key_url: $k"
  else d_fail "Error getting key from: $key_url: neither curl nor wget is installed"; fi
  d_emit url_key "$k"
fi`;

const WRITE = `ssh_dir=$(dirname "$dest")
if [ -n "$manage_dir" ]; then
  [ -d "$ssh_dir" ] || mkdir -p "$ssh_dir" || d_fail "Failed to create $ssh_dir"
  chown "$ids" "$ssh_dir" && chmod 700 "$ssh_dir" || d_fail "Failed to set ownership of $ssh_dir"
fi
${WRITE_STDIN}
dr_stat st_ "$dest"`;

export function planAuthorizedKey(a: AuthorizedKeyArgs, ctx: PlanContext): Step | TaskResult {
  // A key given as a URL is fetched by the target, as ansible.posix's module does.
  const keyUrl = /^https?:\/\//.test(a.key.trim()) ? a.key.trim() : '';
  const script = buildScript(
    ctx.check,
    {
      user: a.user,
      path: a.path ?? '',
      follow: a.follow ? '1' : '',
      key_url: keyUrl,
      insecure: a.validate_certs ? '' : '1',
    },
    `${FETCH}\n${READ}`,
  );
  const base = (keyfile: string): TaskResult => ({
    key: a.key,
    key_options: a.key_options ?? null,
    keyfile,
    manage_dir: a.manage_dir,
    path: a.path ?? null,
    state: a.state,
    user: a.user,
    validate_certs: a.validate_certs,
    exclusive: a.exclusive,
    comment: a.comment ?? null,
    follow: a.follow,
  });
  return {
    script,
    parse(r: RunResult): TaskResult | Step {
      const { report, failure } = readAnswer(r, 'authorized_key');
      if (failure) return failure;
      const keyfile = report.get('keyfile') ?? '';
      const existing = fileContent(report, 'content') ?? '';
      const key = keyUrl ? (report.get('url_key') ?? '') : a.key;
      const merged = mergeAuthorizedKeys(existing, { ...a, key });
      if (merged && 'error' in merged) return { failed: true, changed: false, msg: merged.error };
      // Like AnsibleModule.add_path_info: stat keys only when `path` was given.
      const info = (rep: typeof report) => (a.path !== undefined ? pathInfo(rep, 'st_') : {});
      if (!merged) return { ...base(keyfile), changed: false, ...info(report) };
      const res: TaskResult = { ...base(keyfile), changed: true };
      if (ctx.diff) {
        res.diff = { before_header: keyfile, after_header: keyfile, before: existing, after: merged.content };
      }
      if (ctx.check) return res;
      return {
        script: buildScript(
          false,
          {
            dest: keyfile,
            ids: report.get('ids') ?? '',
            owner: report.get('ids') ?? '',
            mode: '600',
            mkdirs: '1',
            manage_dir: a.manage_dir ? '1' : '',
          },
          WRITE,
        ),
        stdin: merged.content,
        parse(w: RunResult): TaskResult {
          const ans = readAnswer(w, 'authorized_key');
          return ans.failure ?? { ...res, ...info(ans.report) };
        },
      };
    },
  };
}

export const authorizedKey: Module<AuthorizedKeyArgs> = {
  names: ['authorized_key', 'ansible.posix.authorized_key', 'ansible.builtin.authorized_key'],
  check: 'full',
  diff: true,
  args: {
    options: {
      user: { type: 'str', required: true },
      key: { type: 'str', required: true, noLog: false },
      path: { type: 'path' },
      manage_dir: { type: 'bool', default: true },
      state: { type: 'str', default: 'present', choices: ['absent', 'present'] },
      key_options: { type: 'str' },
      exclusive: { type: 'bool', default: false },
      validate_certs: { type: 'bool', default: true },
      comment: { type: 'str' },
      follow: { type: 'bool', default: false },
    },
  },
  plan: planAuthorizedKey,
};
