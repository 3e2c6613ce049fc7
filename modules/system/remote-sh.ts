/**
 * The sh scaffolding shared by the system, package and net modules: a prelude of small
 * functions that answer in the line protocol of `modules/sh/protocol.ts` (`key=value`,
 * `key:b64=...`), a CHECK switch so check mode runs the same script in report-only form,
 * and a reader that turns the answer into a TaskResult skeleton.
 *
 * The shared prelude of modules/sh (dr_* functions: stat, attrs, sums) comes first, so these
 * scripts can use it; the d_* functions here add what package/system scripts need on top.
 *
 * Every command a script runs has its stdout sent away from the report (to stderr or into a
 * variable), so no tool output can forge a report key.
 */
import { quote } from '../../src/shell/quote.js';
import type { RunResult } from '../../src/transport/types.js';
import { parseReport, parseStat, type Report, SH_PRELUDE } from '../sh/index.js';
import type { TaskResult } from '../types.js';

/**
 * d_emit KEY VALUE   report any value byte-exact (base64)
 * d_set KEY VALUE    report a plain value (digits, words)
 * d_fail MSG         report failure and stop
 * d_run MSG CMD...   run CMD unless CHECK; on failure report MSG with CMD's output, stop
 * d_changed          mark the task changed
 */
export const PRELUDE = `d_emit() { printf '%s:b64=' "$1"; printf '%s' "$2" | base64 | tr -d '\\n'; printf '\\n'; }
d_set() { printf '%s=%s\\n' "$1" "$2"; }
d_fail() { d_emit msg "$1"; d_set failed 1; exit 0; }
d_changed() { d_set changed 1; }
d_run() { d_m=$1; shift; [ -n "$CHECK" ] && return 0; d_o=$("$@" 2>&1 </dev/null); d_r=$?; if [ "$d_r" -ne 0 ]; then d_set rc "$d_r"; d_emit stderr "$d_o"; d_fail "$d_m: $d_o"; fi; return 0; }
d_has() { command -v "$1" >/dev/null 2>&1; }
`;

/** Assemble a module script: preludes, CHECK switch, quoted variable assignments, body. */
export function buildScript(
  check: boolean,
  vars: Record<string, string | number | undefined>,
  body: string,
  tmp = '/tmp',
): string {
  const assigns = Object.entries(vars)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`bad sh variable name: ${k}`);
      return `${k}=${quote(v)}`;
    });
  // CHECK is 1 or empty: modules/sh tests `[ "$CHECK" != 1 ]`, the d_* functions `[ -n "$CHECK" ]`.
  return `${SH_PRELUDE.trim()}\n${PRELUDE}CHECK=${check ? '1' : ''}\nDR_TMP=${quote(tmp)}\n${assigns.join('\n')}\n${body}\n`;
}

/** A newline-separated list for a sh variable (read back with a `while read` loop). */
export function lines(values: readonly string[]): string {
  return values.join('\n');
}

export interface ReadAnswer {
  report: Report;
  /** Set when the script failed: a finished TaskResult to return as is. */
  failure?: TaskResult;
}

/**
 * Read a script's answer. A script that died without reporting (rc != 0 and no report) is a
 * failure carrying its stderr, never a bare "MODULE FAILURE".
 */
export function readAnswer(r: RunResult, what: string): ReadAnswer {
  const report = parseReport(r.stdout);
  if (report.flag('failed')) {
    const failure: TaskResult = {
      failed: true,
      changed: report.flag('changed'),
      msg: report.get('msg') ?? what,
    };
    const rc = report.int('rc');
    if (rc !== undefined) failure.rc = rc;
    const stderr = report.get('stderr');
    if (stderr !== undefined) failure.stderr = stderr;
    return { report, failure };
  }
  if (r.rc !== 0) {
    const err = r.stderr.trim();
    return {
      report,
      failure: {
        failed: true,
        changed: false,
        rc: r.rc,
        msg: `${what} failed (rc=${r.rc})${err ? `: ${err}` : ''}`,
        stderr: r.stderr,
        stdout: r.stdout,
      },
    };
  }
  return { report };
}

/**
 * Report a file's content byte-exact, or its absence. `path` is a sh expression (already
 * quoted or a "$var" reference).
 */
export function readFileSh(key: string, path: string): string {
  return `if [ -f ${path} ]; then d_set ${key}_exists 1; d_emit ${key} "$(cat ${path}; printf x)"; fi`;
}

/** Strip the `x` sentinel readFileSh adds so trailing newlines survive `$(...)`. */
export function fileContent(report: Report, key: string): string | undefined {
  if (!report.flag(`${key}_exists`)) return undefined;
  const v = report.get(key) ?? 'x';
  return v.slice(0, -1);
}

export interface WriteOptions {
  mode?: string;
  /** user[:group] for chown; empty to leave ownership alone. */
  owner?: string;
  /** Create missing parent directories (mkdir -p). */
  mkdirs?: boolean;
}

/**
 * A script body that writes stdin to `$dest` atomically: a temp file in the same directory,
 * ownership and mode set on it, then rename, so a failed write leaves the old file intact.
 */
export const WRITE_STDIN = `d_dir=$(dirname "$dest")
if [ ! -d "$d_dir" ]; then
  [ -n "$mkdirs" ] || d_fail "Destination directory $d_dir does not exist"
  mkdir -p "$d_dir" 2>/dev/null || d_fail "Failed to create directory $d_dir"
fi
d_tmp=$(mktemp "$d_dir/.drover.XXXXXX") || d_fail "Failed to create a temporary file in $d_dir"
cat > "$d_tmp" || { rm -f "$d_tmp"; d_fail "Failed to write $dest"; }
if [ -n "$mode" ]; then chmod "$mode" "$d_tmp" || { rm -f "$d_tmp"; d_fail "Failed to chmod $dest"; }
elif [ -e "$dest" ]; then chmod "$(stat -c %a "$dest" 2>/dev/null || echo 644)" "$d_tmp" 2>/dev/null
else chmod 644 "$d_tmp"; fi
if [ -n "$owner" ]; then chown "$owner" "$d_tmp" 2>/dev/null || { rm -f "$d_tmp"; d_fail "Failed to chown $dest to $owner"; }
elif [ -e "$dest" ]; then chown "$(stat -c %u:%g "$dest")" "$d_tmp" 2>/dev/null; fi
mv -f "$d_tmp" "$dest" || { rm -f "$d_tmp"; d_fail "Failed to replace $dest"; }
d_changed`;

/**
 * The keys ansible's AnsibleModule.add_path_info adds to every result that carries an
 * existing `path` or `dest`: uid, gid, owner, group, mode, state, size. Read from a
 * `dr_stat PREFIX PATH` answer.
 */
export function pathInfo(report: Report, prefix: string): Record<string, unknown> {
  const st = parseStat(report, prefix);
  if (st.type === 'absent') return {};
  const info: Record<string, unknown> = {
    uid: st.uid,
    gid: st.gid,
    owner: st.owner,
    group: st.group,
    mode: st.mode,
    state: st.type === 'other' ? 'file' : st.type === 'link' ? 'link' : st.type,
    size: st.size,
  };
  for (const k of Object.keys(info)) if (info[k] === undefined) delete info[k];
  return info;
}
