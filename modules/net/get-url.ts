/**
 * get_url: download on the target with curl (or wget) in one round trip. An existing dest
 * with a matching checksum (or any existing dest without checksum and force=no) is left
 * alone without downloading; otherwise the file is fetched to a temp file beside dest,
 * verified, compared with dest and renamed into place only when different; mode/owner/
 * group are applied with the shared dr_attrs.
 */
import { quoteArgs } from '../../src/shell/quote.js';
import type { RunResult } from '../../src/transport/types.js';
import { buildScript, readAnswer } from '../system/remote-sh.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';

export interface GetUrlArgs {
  url: string;
  dest: string;
  checksum: string;
  force: boolean;
  backup: boolean;
  headers?: Record<string, unknown>;
  timeout: number;
  validate_certs: boolean;
  url_username?: string;
  url_password?: string;
  force_basic_auth: boolean;
  http_agent: string;
  use_proxy: boolean;
  tmp_dest?: string;
  mode?: string | number;
  owner?: string;
  group?: string;
}

const ALGOS = new Set(['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512']);

const BODY = `start=$(date +%s)
case "$url" in */) base=index.html;; *) base=\${url##*/}; base=\${base%%\\?*}; [ -n "$base" ] || base=index.html;; esac
if [ -d "$dest" ]; then dest="\${dest%/}/$base"; fi
d_emit dest "$dest"
sum() { dr_sum "$1" "$algo"; }
if [ -f "$dest" ]; then
  d_set dest_exists 1
  if [ -n "$algo" ]; then
    have=$(sum "$dest")
    if [ "$have" = "$want" ] && [ -z "$force" ]; then skip=1; fi
  elif [ -z "$force" ]; then skip=1; fi
fi
if [ -z "$skip" ]; then
  if [ -n "$CHECK" ]; then d_changed
  else
    d_dir=$(dirname "$dest")
    [ -d "$d_dir" ] || d_fail "Destination $d_dir does not exist"
    tmp=$(mktemp "\${tmp_dir:-$d_dir}/.drover-get_url.XXXXXX") || d_fail "Destination $d_dir is not writable"
    trap 'rm -f "$tmp"' EXIT
    if d_has curl; then
      eval "set -- $curl_args"
      code=$(curl "$@" -o "$tmp" -w '%{http_code}' -- "$url" 2>"$tmp.err"); rc=$?
      err=$(cat "$tmp.err" 2>/dev/null); rm -f "$tmp.err"
      d_set status_code "$code"
      [ $rc -eq 0 ] || d_fail "Request failed: $err (HTTP status $code)"
    elif d_has wget; then
      eval "set -- $wget_args"
      err=$(wget "$@" -O "$tmp" -- "$url" 2>&1) || d_fail "Request failed: $err"
      d_set status_code 200
    else d_fail "get_url needs curl or wget on the target"; fi
    d_set size "$(wc -c < "$tmp" | tr -d ' ')"
    if [ -n "$algo" ]; then
      got=$(sum "$tmp")
      # Ansible reports this failure as changed (the download happened).
      [ "$got" = "$want" ] || { d_changed; d_fail "The checksum for $dest did not match $want; it was $got."; }
    fi
    d_set checksum_src "$(dr_sha1 "$tmp")"
    # Ansible's checksum_dest is dest's checksum before it is replaced (absent: none).
    [ -f "$dest" ] && d_set checksum_dest "$(dr_sha1 "$dest")"
    if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then rm -f "$tmp"
    else
      if [ -f "$dest" ]; then
        chmod "$(stat -c %a "$dest")" "$tmp" 2>/dev/null; chown "$(stat -c %u:%g "$dest")" "$tmp" 2>/dev/null
        [ -n "$backup" ] && dr_backup "$dest"
      else chmod "$(printf '%o' $((0666 & ~0$(umask))))" "$tmp"; fi
      mv -f "$tmp" "$dest" || d_fail "Could not replace $dest"
      d_changed
    fi
    trap - EXIT
  fi
fi
if [ -e "$dest" ]; then
  dr_attrs "$dest" "$owner" "$group" "$mode"
  [ "$DR_CHANGED" = 1 ] && d_changed
  # A download skipped without a checksum still reports dest's checksum, as Ansible does.
  [ -n "$skip" ] && [ -z "$algo" ] && d_set checksum_dest "$(dr_sha1 "$dest")"
  dr_stat st_ "$dest"
fi
d_set elapsed $(( $(date +%s) - start ))
exit 0`;

function headerArgs(h: Record<string, unknown> | undefined, flag: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(h ?? {})) out.push(flag, `${k}: ${String(v)}`);
  return out;
}

/** The file name Ansible's url_filename gives: the URL path's last segment, or index.html. */
export function urlFilename(url: string): string {
  const path = url.replace(/^[a-z]+:\/\/[^/]*/i, '').split(/[?#]/)[0] ?? '';
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base === '' ? 'index.html' : base;
}

/** Ansible's checksum-file lookup: `hex  name` lines (or a lone hex), matched on the URL's file name. */
export function checksumFromFile(text: string, url: string): string | undefined {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const filename = urlFilename(url);
  const map: [string, string][] = [];
  if (lines.length === 1 && lines[0]!.trim().split(/\s+/).length === 1)
    map.push([lines[0]!.trim(), filename]);
  else {
    for (const line of lines) {
      const sp = line.indexOf(' ');
      if (sp < 0) continue;
      let name = line.slice(sp + 1);
      if (name.startsWith(' ') || name.startsWith('*')) name = name.slice(1);
      map.push([line.slice(0, sp), name.replace(/^[./]+/, '')]);
    }
  }
  const strip = (f: string) => f.replace(/^[./]+|[./]+$/g, '');
  return map.find(([, f]) => strip(f) === filename)?.[0];
}

const FETCH_SUM = `if d_has curl; then o=$(curl -fsSL -- "$sum_url" 2>&1) || d_fail "Failed to download the checksum file $sum_url: $o"
elif d_has wget; then o=$(wget -qO- -- "$sum_url" 2>&1) || d_fail "Failed to download the checksum file $sum_url: $o"
else d_fail "get_url needs curl or wget on the target"; fi
d_emit sums "$o"`;

/** checksum: algo:URL costs one extra round trip that fetches the checksum file on the target. */
function fetchChecksum(a: GetUrlArgs, ctx: PlanContext, algo: string, sumUrl: string): Step {
  return {
    script: buildScript(false, { sum_url: sumUrl }, FETCH_SUM),
    parse(r: RunResult): TaskResult | Step {
      const { report, failure } = readAnswer(r, 'get_url');
      if (failure) return { ...failure, dest: a.dest, url: a.url };
      const hex = checksumFromFile(report.get('sums') ?? '', a.url);
      if (!hex) {
        return {
          failed: true,
          changed: false,
          msg: `Unable to find a checksum for file '${urlFilename(a.url)}' in '${sumUrl}'`,
        };
      }
      return planGetUrl({ ...a, checksum: `${algo}:${hex}` }, ctx);
    },
  };
}

export function planGetUrl(a: GetUrlArgs, ctx: PlanContext): Step | TaskResult {
  let algo = '';
  let want = '';
  if (a.checksum) {
    const i = a.checksum.indexOf(':');
    if (i < 0)
      return { failed: true, msg: 'The checksum parameter has to be in format <algorithm>:<checksum>' };
    algo = a.checksum.slice(0, i).toLowerCase();
    want = a.checksum
      .slice(i + 1)
      .trim()
      .toLowerCase();
    if (!ALGOS.has(algo)) return { failed: true, msg: `Unsupported hash algorithm: ${algo}` };
    const sumUrl = a.checksum.slice(i + 1).trim();
    if (/^(https?|ftp|file):\/\//.test(sumUrl)) return fetchChecksum(a, ctx, algo, sumUrl);
    if (!/^[0-9a-f]+$/.test(want))
      return { failed: true, msg: `The checksum format is invalid: ${a.checksum}` };
  }
  const curl = ['-sS', '-L', '--max-time', String(a.timeout), '-A', a.http_agent];
  if (!a.validate_certs) curl.push('-k');
  if (!a.use_proxy) curl.push('--noproxy', '*');
  if (a.url_username !== undefined) {
    curl.push('-u', `${a.url_username}:${a.url_password ?? ''}`);
    if (!a.force_basic_auth) curl.push('--anyauth');
  }
  curl.push(...headerArgs(a.headers, '-H'), '-f');
  const wget = ['-q', '-T', String(a.timeout), '-U', a.http_agent];
  if (!a.validate_certs) wget.push('--no-check-certificate');
  if (a.url_username !== undefined)
    wget.push(`--user=${a.url_username}`, `--password=${a.url_password ?? ''}`);
  wget.push(...headerArgs(a.headers, '--header'));
  const mode = typeof a.mode === 'number' ? a.mode.toString(8) : (a.mode ?? '');
  const script = buildScript(
    ctx.check,
    {
      url: a.url,
      dest: a.dest,
      algo,
      want,
      force: a.force ? '1' : '',
      backup: a.backup ? '1' : '',
      tmp_dir: a.tmp_dest ?? '',
      curl_args: quoteArgs(curl),
      wget_args: quoteArgs(wget),
      owner: a.owner ?? '',
      group: a.group ?? '',
      mode,
    },
    BODY,
    ctx.remoteTmp,
  );
  return {
    script,
    parse(r: RunResult): TaskResult {
      const { report, failure } = readAnswer(r, 'get_url');
      const dest = report.get('dest') ?? a.dest;
      const status = report.int('status_code');
      if (failure) {
        return { ...failure, dest, url: a.url, ...(status !== undefined ? { status_code: status } : {}) };
      }
      const changed = report.flag('changed');
      const res: TaskResult = { changed, dest, url: a.url, elapsed: report.int('elapsed') ?? 0 };
      const size = report.int('size');
      if (status !== undefined) {
        res.status_code = status;
        res.msg = `OK (${size ?? 0} bytes)`;
      } else res.msg = report.flag('dest_exists') ? 'file already exists' : 'OK';
      const cs = report.get('checksum_src');
      if (cs) res.checksum_src = cs;
      const cd = report.get('checksum_dest');
      if (cd) res.checksum_dest = cd;
      else if (cs) res.checksum_dest = null;
      if (report.get('st_type') === 'file') {
        res.state = 'file';
        const st = (report.get('st_stat') ?? '').split(' ');
        if (st.length >= 4) {
          res.mode = st[0]!.padStart(4, '0');
          res.uid = Number(st[1]);
          res.gid = Number(st[2]);
          res.size = Number(st[3]);
          res.owner = report.get('st_owner');
          res.group = report.get('st_group');
        }
      }
      const bk = report.get('backup_file');
      if (bk) res.backup_file = bk;
      return res;
    },
  };
}

export const getUrl: Module<GetUrlArgs> = {
  names: ['get_url', 'ansible.builtin.get_url'],
  check: 'full',
  args: {
    options: {
      url: { type: 'str', required: true },
      dest: { type: 'path', required: true },
      backup: { type: 'bool', default: false },
      checksum: { type: 'str', default: '' },
      use_proxy: { type: 'bool', default: true },
      validate_certs: { type: 'bool', default: true },
      force: { type: 'bool', default: false, aliases: ['thirsty'] },
      timeout: { type: 'int', default: 10 },
      headers: { type: 'dict' },
      tmp_dest: { type: 'path' },
      url_username: { type: 'str', aliases: ['username'] },
      url_password: { type: 'str', aliases: ['password'], noLog: true },
      force_basic_auth: { type: 'bool', default: false },
      http_agent: { type: 'str', default: 'ansible-httpget' },
      use_gssapi: { type: 'bool', default: false },
      use_netrc: { type: 'bool', default: true },
      client_cert: { type: 'path' },
      client_key: { type: 'path' },
      unredirected_headers: { type: 'list', elements: 'str', default: [] },
      decompress: { type: 'bool', default: true },
      ciphers: { type: 'list', elements: 'str' },
      mode: { type: 'raw' },
      owner: { type: 'str' },
      group: { type: 'str' },
      seuser: { type: 'str' },
      serole: { type: 'str' },
      setype: { type: 'str' },
      selevel: { type: 'str' },
      unsafe_writes: { type: 'bool', default: false },
      attributes: { type: 'str', aliases: ['attr'] },
    },
  },
  plan: planGetUrl,
};
