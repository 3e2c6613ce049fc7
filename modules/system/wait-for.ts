/**
 * wait_for: a remote sh loop (no Python) that polls a TCP port, a file, or a regex in a file
 * until the wanted state holds or the timeout passes. Ports are probed with nc, bash's
 * /dev/tcp, or, for local listeners, /proc/net/tcp{,6}.
 */
import type { RunResult } from '../../src/transport/types.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { buildScript, readAnswer } from './remote-sh.js';

export interface WaitForArgs {
  host: string;
  timeout: number;
  connect_timeout: number;
  delay: number;
  port?: number;
  path?: string;
  search_regex?: string;
  state: 'absent' | 'drained' | 'present' | 'started' | 'stopped';
  exclude_hosts?: string[];
  sleep: number;
  msg?: string;
  active_connection_states: string[];
}

const BODY = `hexport=$(printf '%04X' "\${port:-0}")
listening() { cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hexport" '$2 ~ p"$" && $4 == "0A" {f=1} END {exit !f}'; }
active() { cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hexport" '$2 ~ p"$" && ($4 == "01" || $4 == "02" || $4 == "03" || $4 == "04" || $4 == "05" || $4 == "06" || $4 == "08" || $4 == "09") {f=1} END {exit !f}'; }
port_open() {
  if d_has nc; then nc -z -w "$ct" "$host" "$port" >/dev/null 2>&1 </dev/null && return 0; nc -h 2>&1 | grep -q -- ' -z' && return 1; fi
  if d_has bash; then timeout "$ct" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" >/dev/null 2>&1 && return 0; return 1; fi
  case "$host" in 127.*|localhost|0.0.0.0|::1|::) listening; return;; esac
  return 1
}
file_ok() {
  [ -e "$path" ] || return 1
  [ -n "$regex" ] || return 0
  m=$(grep -E -m 1 -o -e "$regex" "$path" 2>/dev/null) || return 1
  d_emit match "$m"; return 0
}
check_once() {
  if [ -n "$path" ]; then
    case "$state" in present|started) file_ok;; absent|stopped) [ ! -e "$path" ];; *) return 1;; esac
  elif [ -n "$port" ]; then
    case "$state" in
      started|present) if [ -n "$regex" ]; then d_has nc && printf '' | nc -w "$ct" "$host" "$port" 2>/dev/null | grep -E -q -e "$regex"; else port_open; fi;;
      stopped|absent) ! port_open;;
      drained) ! active;;
    esac
  else return 0; fi
}
start=$(date +%s)
[ "$delay" -gt 0 ] && sleep "$delay"
while :; do
  if check_once; then d_set elapsed $(( $(date +%s) - start )); exit 0; fi
  now=$(date +%s)
  if [ $((now - start)) -ge "$timeout" ]; then d_set elapsed $((now - start)); d_set timed_out 1; exit 0; fi
  sleep "$pause"
done`;

/**
 * search_regex is a Python regex; the target's grep -E knows POSIX ERE. Translate the
 * common escapes and non-capturing groups (the match is re-run in JS for the groups).
 */
export function pythonRegexToEre(re: string): string {
  const map: Record<string, string> = {
    d: '[0-9]',
    D: '[^0-9]',
    s: '[[:space:]]',
    S: '[^[:space:]]',
    w: '[[:alnum:]_]',
    W: '[^[:alnum:]_]',
  };
  let out = '';
  for (let i = 0; i < re.length; i++) {
    const c = re[i]!;
    if (c === '\\' && i + 1 < re.length) {
      const n = re[i + 1]!;
      out += map[n] ?? `\\${n}`;
      i++;
    } else if (c === '(' && re.startsWith('(?:', i)) {
      out += '(';
      i += 2;
    } else out += c;
  }
  return out;
}

export function planWaitFor(a: WaitForArgs, ctx: PlanContext): Step | TaskResult {
  if (a.port !== undefined && a.path !== undefined) {
    return { failed: true, msg: 'port and path parameter can not both be passed to wait_for' };
  }
  if (a.path !== undefined && a.state === 'drained') {
    return {
      failed: true,
      msg: 'state=drained should only be used for checking a port in the wait_for module',
    };
  }
  if (a.port === undefined && a.path === undefined && a.state !== 'started' && a.state !== 'present') {
    if (a.state === 'stopped' || a.state === 'absent' || a.state === 'drained') {
      return { failed: true, msg: `state=${a.state} requires a port or a path` };
    }
  }
  if (ctx.check && a.port === undefined && a.path === undefined) {
    return { changed: false, elapsed: 0, state: a.state };
  }
  const script = buildScript(
    false,
    {
      host: a.host,
      port: a.port ?? '',
      path: a.path ?? '',
      regex: a.search_regex === undefined ? '' : pythonRegexToEre(a.search_regex),
      state: a.state,
      timeout: a.timeout,
      delay: a.delay,
      pause: a.sleep,
      ct: a.connect_timeout,
    },
    BODY,
  );
  return {
    script,
    parse(r: RunResult): TaskResult {
      const { report, failure } = readAnswer(r, 'wait_for');
      if (failure) return failure;
      const elapsed = report.int('elapsed') ?? 0;
      const res: TaskResult = { changed: false, elapsed, state: a.state };
      if (a.port !== undefined) res.port = a.port;
      if (a.path !== undefined) res.path = a.path;
      if (a.search_regex !== undefined) {
        res.search_regex = a.search_regex;
        const m = report.get('match');
        if (m !== undefined) {
          const groups = new RegExp(a.search_regex).exec(m);
          res.match_groups = groups ? groups.slice(1) : [];
          res.match_groupdict = groups?.groups ?? {};
        }
      }
      if (report.flag('timed_out')) {
        let what: string;
        if (a.path !== undefined) {
          what =
            a.search_regex !== undefined
              ? `Timeout when waiting for search string ${a.search_regex} in ${a.path}`
              : a.state === 'absent' || a.state === 'stopped'
                ? `Timeout when waiting for ${a.path} to be absent.`
                : `Timeout when waiting for file ${a.path}`;
        } else if (a.state === 'drained') what = `Timeout when waiting for ${a.host}:${a.port} to drain`;
        else if (a.state === 'stopped' || a.state === 'absent')
          what = `Timeout when waiting for ${a.host}:${a.port} to stop.`;
        else
          what =
            a.search_regex !== undefined
              ? `Timeout when waiting for search string ${a.search_regex} in ${a.host}:${a.port}`
              : `Timeout when waiting for ${a.host}:${a.port}`;
        return { ...res, failed: true, msg: a.msg ?? what };
      }
      return res;
    },
  };
}

export const waitFor: Module<WaitForArgs> = {
  names: ['wait_for', 'ansible.builtin.wait_for'],
  // ansible-core's wait_for does not support check mode: the task is skipped under --check.
  check: 'none',
  args: {
    options: {
      host: { type: 'str', default: '127.0.0.1' },
      timeout: { type: 'int', default: 300 },
      connect_timeout: { type: 'int', default: 5 },
      delay: { type: 'int', default: 0 },
      port: { type: 'int' },
      active_connection_states: {
        type: 'list',
        elements: 'str',
        default: ['ESTABLISHED', 'FIN_WAIT1', 'FIN_WAIT2', 'SYN_RECV', 'SYN_SENT', 'TIME_WAIT'],
      },
      path: { type: 'path' },
      search_regex: { type: 'str' },
      state: {
        type: 'str',
        default: 'started',
        choices: ['absent', 'drained', 'present', 'started', 'stopped'],
      },
      exclude_hosts: { type: 'list', elements: 'str' },
      sleep: { type: 'int', default: 1 },
      msg: { type: 'str' },
    },
  },
  plan: planWaitFor,
};
