/**
 * uri: one HTTP request made with curl on the target. The body travels on stdin; status,
 * final URL, response headers and content come back in the line protocol, and the result
 * has Ansible's shape (status, url, msg, headers flattened to lower_snake keys, json when
 * the content type is JSON, content with return_content, redirected, elapsed).
 */
import { quoteArgs } from '../../src/shell/quote.js';
import type { RunResult } from '../../src/transport/types.js';
import { buildScript, readAnswer } from '../system/remote-sh.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';

export interface UriArgs {
  url: string;
  method: string;
  body?: unknown;
  body_format: 'form-urlencoded' | 'json' | 'raw' | 'form-multipart';
  status_code: number[];
  return_content: boolean;
  headers: Record<string, unknown>;
  url_username?: string;
  url_password?: string;
  force_basic_auth: boolean;
  dest?: string;
  creates?: string;
  removes?: string;
  timeout: number;
  follow_redirects: string;
  validate_certs: boolean;
  http_agent: string;
  use_proxy: boolean;
  src?: string;
  unix_socket?: string;
}

const BODY = `if [ -n "$creates" ] && [ -e "$creates" ]; then d_set skip_creates 1; exit 0; fi
if [ -n "$removes" ] && [ ! -e "$removes" ]; then d_set skip_removes 1; exit 0; fi
d_has curl || d_fail "uri needs curl on the target"
w=$(mktemp -d "$DR_TMP/.drover-uri.XXXXXX") || d_fail "cannot create a scratch dir in $DR_TMP"
trap 'rm -rf "$w"' EXIT
eval "set -- $curl_args"
start=$(date +%s)
[ -n "$has_body" ] && set -- "$@" --data-binary @-
[ -n "$src" ] && set -- "$@" --data-binary "@$src"
info=$(curl "$@" -D "$w/h" -o "$w/b" -w '%{http_code} %{num_redirects} %{url_effective}' -- "$url" 2>"$w/e"); rc=$?
d_set elapsed $(( $(date +%s) - start ))
d_set curl_rc "$rc"
d_emit curl_err "$(cat "$w/e")"
d_emit info "$info"
d_emit headers "$(cat "$w/h"; printf x)"
if [ -n "$want_body" ]; then d_emit content "$(cat "$w/b"; printf x)"; fi
if [ -n "$dest" ] && [ $rc -eq 0 ]; then
  [ -d "$dest" ] && dest="\${dest%/}/\${url##*/}"
  if [ -f "$dest" ] && cmp -s "$w/b" "$dest"; then :; else
    [ -n "$CHECK" ] || mv -f "$w/b" "$dest" || d_fail "Could not write $dest"
    d_changed
  fi
  d_emit path "$dest"
fi
exit 0`;

/**
 * Python's json.dumps with its defaults (", " and ": " separators, ensure_ascii), which is
 * what Ansible sends: servers that sign or hash the body see the same bytes.
 */
export function pythonJsonDumps(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number')
    return Number.isFinite(v) ? String(v) : v > 0 ? 'Infinity' : v < 0 ? '-Infinity' : 'NaN';
  if (typeof v === 'string') {
    return JSON.stringify(v).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  }
  if (Array.isArray(v)) return `[${v.map(pythonJsonDumps).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${pythonJsonDumps(k)}: ${pythonJsonDumps(x)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(String(v));
}

function urlencode(body: unknown): string {
  if (typeof body === 'string') return body;
  const params = new URLSearchParams();
  if (Array.isArray(body)) for (const pair of body) params.append(String(pair[0]), String(pair[1]));
  else if (body && typeof body === 'object')
    for (const [k, v] of Object.entries(body)) params.append(k, String(v));
  return params.toString();
}

/** Header block of the last response (curl -D keeps one block per redirect hop). */
export function parseHeaders(text: string): Record<string, string> {
  const blocks = text.split(/\r?\n\r?\n/).filter((b) => b.trim() !== '');
  const last = blocks[blocks.length - 1] ?? '';
  const out: Record<string, string> = {};
  for (const line of last.split(/\r?\n/).slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase().replaceAll('-', '_');
    const v = line.slice(i + 1).trim();
    out[k] = k in out ? `${out[k]}, ${v}` : v;
  }
  return out;
}

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export function planUri(a: UriArgs, ctx: PlanContext): Step | TaskResult {
  if (ctx.check) {
    // Ansible's uri has no check mode support: the task is skipped.
    return { skipped: true, changed: false, msg: 'remote module (uri) does not support check mode' };
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.headers ?? {})) headers[k] = String(v);
  const hasHeader = (n: string) => Object.keys(headers).some((k) => k.toLowerCase() === n);
  let body: string | undefined;
  if (a.body !== undefined && a.body !== null) {
    if (a.body_format === 'json') {
      body = typeof a.body === 'string' ? a.body : pythonJsonDumps(a.body);
      if (!hasHeader('content-type')) headers['Content-Type'] = 'application/json';
    } else if (a.body_format === 'form-urlencoded') {
      body = urlencode(a.body);
      if (!hasHeader('content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    } else if (a.body_format === 'form-multipart') {
      return { failed: true, msg: 'uri: body_format=form-multipart is not supported by drover yet' };
    } else body = typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
  }
  const curl = ['-sS', '-X', a.method.toUpperCase(), '--max-time', String(a.timeout), '-A', a.http_agent];
  if (a.method.toUpperCase() === 'HEAD') curl.splice(1, 2, '-I');
  if (a.follow_redirects === 'all' || a.follow_redirects === 'yes' || a.follow_redirects === 'safe') {
    curl.push('-L');
  }
  if (!a.validate_certs) curl.push('-k');
  if (!a.use_proxy) curl.push('--noproxy', '*');
  if (a.unix_socket) curl.push('--unix-socket', a.unix_socket);
  if (a.url_username !== undefined) {
    curl.push('-u', `${a.url_username}:${a.url_password ?? ''}`);
    if (!a.force_basic_auth) curl.push('--anyauth');
  }
  for (const [k, v] of Object.entries(headers)) curl.push('-H', `${k}: ${v}`);
  const script = buildScript(
    false,
    {
      url: a.url,
      curl_args: quoteArgs(curl),
      has_body: body !== undefined ? '1' : '',
      src: a.src ?? '',
      want_body: a.dest === undefined ? '1' : '',
      dest: a.dest ?? '',
      creates: a.creates ?? '',
      removes: a.removes ?? '',
    },
    BODY,
    ctx.remoteTmp,
  );
  const step: Step = {
    script,
    parse(r: RunResult): TaskResult {
      const { report, failure } = readAnswer(r, 'uri');
      if (failure) return { ...failure, url: a.url };
      // Ansible's wording and shape: not a skip, an ok result with stdout.
      if (report.flag('skip_creates'))
        return { changed: false, stdout: `skipped, since '${a.creates}' exists` };
      if (report.flag('skip_removes')) {
        return { changed: false, stdout: `skipped, since '${a.removes}' does not exist` };
      }
      const curlRc = report.int('curl_rc') ?? 0;
      const [codeText = '0', redirects = '0', ...rest] = (report.get('info') ?? '').split(' ');
      const status = Number.parseInt(codeText, 10) || -1;
      const finalUrl = rest.join(' ') || a.url;
      const hdrs = parseHeaders((report.get('headers') ?? 'x').slice(0, -1));
      const res: TaskResult = {
        changed: report.flag('changed'),
        ...hdrs,
        status,
        url: finalUrl,
        redirected: Number(redirects) > 0,
        elapsed: report.int('elapsed') ?? 0,
        cookies: {},
        cookies_string: '',
      };
      if (curlRc !== 0 && status <= 0) {
        const err = report.get('curl_err')?.trim() ?? '';
        return {
          ...res,
          failed: true,
          status: -1,
          msg: `Status code was -1 and not [${a.status_code.join(', ')}]: Request failed: ${err}`,
        };
      }
      const raw = report.bytes('content');
      const content = raw ? raw.subarray(0, raw.length - 1).toString('utf8') : undefined;
      const type = hdrs.content_type ?? '';
      if (content !== undefined && /json/i.test(type)) {
        try {
          res.json = JSON.parse(content);
        } catch {
          // not valid JSON despite the content type: Ansible leaves `json` out too
        }
      }
      if (a.return_content && content !== undefined) res.content = content;
      const path = report.get('path');
      if (path) res.path = path;
      const reason = REASONS[status] ?? '';
      res.msg = `OK (${hdrs.content_length ?? (content !== undefined ? Buffer.byteLength(content) : 'unknown')} bytes)`;
      if (!a.status_code.includes(status)) {
        res.failed = true;
        res.msg = `Status code was ${status} and not [${a.status_code.join(', ')}]: HTTP Error ${status}: ${reason}`;
        if (content !== undefined && !a.return_content) res.content = content;
      }
      return res;
    },
  };
  if (body !== undefined) step.stdin = body;
  return step;
}

export const uri: Module<UriArgs> = {
  names: ['uri', 'ansible.builtin.uri'],
  check: 'none',
  args: {
    options: {
      url: { type: 'str', required: true },
      dest: { type: 'path' },
      url_username: { type: 'str', aliases: ['user'] },
      url_password: { type: 'str', aliases: ['password'], noLog: true },
      body: { type: 'raw' },
      body_format: {
        type: 'str',
        default: 'raw',
        choices: ['form-urlencoded', 'json', 'raw', 'form-multipart'],
      },
      src: { type: 'path' },
      method: { type: 'str', default: 'GET' },
      return_content: { type: 'bool', default: false },
      follow_redirects: {
        type: 'str',
        default: 'safe',
        choices: ['all', 'no', 'none', 'safe', 'urllib2', 'yes'],
      },
      creates: { type: 'path' },
      removes: { type: 'path' },
      status_code: { type: 'list', elements: 'int', default: [200] },
      timeout: { type: 'int', default: 30 },
      headers: { type: 'dict', default: {} },
      unix_socket: { type: 'path' },
      remote_src: { type: 'bool', default: false },
      force_basic_auth: { type: 'bool', default: false },
      validate_certs: { type: 'bool', default: true },
      http_agent: { type: 'str', default: 'ansible-httpget' },
      use_proxy: { type: 'bool', default: true },
      use_gssapi: { type: 'bool', default: false },
      use_netrc: { type: 'bool', default: true },
      client_cert: { type: 'path' },
      client_key: { type: 'path' },
      ca_path: { type: 'path' },
      ciphers: { type: 'list', elements: 'str' },
      decompress: { type: 'bool', default: true },
      unredirected_headers: { type: 'list', elements: 'str', default: [] },
      force: { type: 'bool', default: false },
    },
    mutuallyExclusive: [['body', 'src']],
  },
  plan: planUri,
};
