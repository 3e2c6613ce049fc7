/**
 * file: state file/directory/link/hard/touch/absent with owner/group/mode, recurse and
 * timestamps. One script per task: it reads the current state, refuses the same
 * conversions Ansible refuses (with Ansible's messages), changes only what differs.
 */
import { parseReport, type Report } from '../sh/protocol.js';
import { shPath, shScript } from '../sh/script.js';
import { parseStat } from '../sh/stat.js';
import type { FileDiff, Module, PlanContext, Step, TaskResult } from '../types.js';
import {
  addAttrChanges,
  failureFrom,
  fileAttrs,
  fileCommonArgs,
  isResult,
  sortedJson,
  statResult,
} from './common.js';

export interface FileArgs {
  path: string;
  state?: 'absent' | 'directory' | 'file' | 'hard' | 'link' | 'touch';
  src?: string;
  recurse: boolean;
  force: boolean;
  follow: boolean;
  modification_time?: string;
  modification_time_format: string;
  access_time?: string;
  access_time_format: string;
  mode?: unknown;
  owner?: string;
  group?: string;
}

const FILE_BODY = String.raw`
# the stat cache is trusted: every change below is followed by dr_forget
DR_ST_TRUST=1
dr_state() {
  if [ -L "$1" ]; then DR_S=link
  elif [ -d "$1" ]; then DR_S=directory
  elif [ -f "$1" ]; then
    dr_lstat "$1"
    if [ "${'$'}{DR_ST_NLINK:-1}" -gt 1 ]; then DR_S=hard; else DR_S=file; fi
  elif [ -e "$1" ]; then DR_S=file
  else DR_S=absent; fi
}
dr_touch_times() {
  # $1 path; honours mtime/atime: '' = leave, now, preserve, or a touch -t stamp
  dr_tt_changed=0
  for dr_tt in m a; do
    if [ "$dr_tt" = m ]; then dr_tv=$mtime; else dr_tv=$atime; fi
    case $dr_tv in
      ''|preserve) ;;
      now) dr_tt_changed=1; dr_forget; [ "$CHECK" = 1 ] || touch -h -$dr_tt "$1" 2>/dev/null || touch -$dr_tt "$1" ;;
      *)
        if [ "$dr_tt" = m ]; then dr_cur=$(stat -c %Y "$1"); else dr_cur=$(stat -c %X "$1"); fi
        dr_ts=$(mktemp "$DR_TMP/.drover-time.XXXXXX") || dr_fail "cannot create a scratch file in $DR_TMP"
        touch -$dr_tt -t "$dr_tv" "$dr_ts" 2>/dev/null || { rm -f "$dr_ts"; dr_fail "Error while obtaining timestamp for time $dr_tv"; }
        if [ "$dr_tt" = m ]; then dr_want=$(stat -c %Y "$dr_ts"); else dr_want=$(stat -c %X "$dr_ts"); fi
        rm -f "$dr_ts"
        if [ "$dr_cur" != "$dr_want" ]; then
          dr_tt_changed=1; dr_forget
          [ "$CHECK" = 1 ] || touch -$dr_tt -t "$dr_tv" "$1" || dr_fail "Error while updating modification or access time of $1"
        fi ;;
    esac
  done
  [ "$dr_tt_changed" = 1 ] && DR_CHANGED=1
  return 0
}
dr_recurse() {
  # a here-document keeps the loop in this shell, so DR_CHANGED and dr_fail reach the answer
  dr_list=$(find "$1" -mindepth 1)
  [ -n "$dr_list" ] || return 0
  # as Ansible's recursive_set_attributes, the contents' changes are not in the diff
  dr_ad_save=$DR_AD; DR_AD=0
  while IFS= read -r dr_rp; do
    dr_attrs "$dr_rp" "$owner" "$group" "$mode"
  done <<DR_EOF
$dr_list
DR_EOF
  DR_AD=$dr_ad_save
}
dr_state "$path"; prev=$DR_S
DR_AD=$want_diff
if [ -z "$state" ]; then
  case $prev in absent) state=file ;; hard) state=file ;; *) state=$prev ;; esac
  if [ -n "$src" ] && [ "$prev" = absent ]; then state=link; fi
  if [ "$recurse" = 1 ] && [ "$prev" = absent ]; then state=directory; fi
fi
dr_out state_requested "$state"
dr_out prev_state "$prev"
case $state in
absent)
  if [ "$prev" != absent ]; then
    DR_CHANGED=1
    # Ansible's diff lists what a removed directory held (os.walk: directories, files)
    if [ "$want_diff" = 1 ] && [ "$prev" = directory ]; then
      find "$path" -mindepth 1 \( -xtype d -printf 'd %p\n' -o -printf 'f %p\n' \) 2>/dev/null | while IFS= read -r dr_w; do
        dr_out64 walk "$dr_w"
      done
    fi
    if [ "$CHECK" != 1 ]; then dr_forget; dr_err=$(rm -rf "$path" 2>&1) || dr_fail "rmtree failed: $dr_err"; fi
  fi ;;
file)
  if [ "$prev" = link ] && [ "$follow" = 1 ]; then path=$(readlink -f "$path"); dr_state "$path"; prev=$DR_S; fi
  case $prev in
    file|hard) ;;
    absent) dr_fail "file ($path) is absent, cannot continue" ;;
    *) dr_fail "file ($path) is $prev, cannot continue" ;;
  esac
  dr_attrs "$path" "$owner" "$group" "$mode"
  dr_touch_times "$path" ;;
touch)
  if [ "$prev" = absent ]; then
    DR_CHANGED=1
    if [ "$CHECK" != 1 ]; then dr_forget; : > "$path" 2>/dev/null || dr_fail "Error, could not touch target: $path"; fi
  fi
  if [ -e "$path" ] || [ -L "$path" ]; then
    [ -z "$mtime" ] && mtime=now
    [ -z "$atime" ] && atime=now
    # the diff shows the times before and the time set (Ansible: time.time())
    if [ "$want_diff" = 1 ] && [ "$mtime" = now ] && [ "$atime" = now ]; then
      dr_out touch.before "$(stat -c '%.9Y %.9X' "$path")"
      dr_out touch.after "$(date +%s.%N)"
    fi
    dr_touch_times "$path"
    dr_attrs "$path" "$owner" "$group" "$mode"
  fi ;;
directory)
  if [ "$prev" = link ] && [ "$follow" = 1 ]; then path=$(readlink -f "$path"); dr_state "$path"; prev=$DR_S; fi
  case $prev in
    directory) ;;
    absent)
      DR_CHANGED=1
      if [ "$CHECK" != 1 ]; then
        # each missing component gets the requested attributes, like Ansible
        dr_missing=; dr_c=$path
        while [ ! -e "$dr_c" ] && [ "$dr_c" != / ] && [ "$dr_c" != . ]; do dr_missing="$dr_c
$dr_missing"; dr_dirv "$dr_c"; dr_c=$DR_DN; done
        dr_forget
        dr_err=$(mkdir -p "$path" 2>&1) || dr_fail "There was an issue creating $path as requested: $dr_err"
        while IFS= read -r dr_c; do
          if [ -n "$dr_c" ]; then dr_attrs "$dr_c" "$owner" "$group" "$mode"; fi
        done <<DR_EOF
$dr_missing
DR_EOF
      fi ;;
    *) dr_fail "$path already exists as a $prev" ;;
  esac
  if [ -d "$path" ]; then
    dr_attrs "$path" "$owner" "$group" "$mode"
    dr_touch_times "$path"
    if [ "$recurse" = 1 ]; then dr_recurse "$path"; fi
  fi ;;
link)
  [ -n "$src" ] || { [ "$prev" = link ] && src=$(readlink "$path"); }
  [ -n "$src" ] || dr_fail "src is required for creating new symlinks"
  dr_dirv "$path"
  case $src in /*) dr_abs=$src ;; *) dr_abs="$DR_DN/$src" ;; esac
  if [ ! -e "$dr_abs" ] && [ "$force" != 1 ]; then
    dr_fail "src file does not exist, use \"force=yes\" if you really want to create the link: $dr_abs"
  fi
  case $prev in
    absent) DR_CHANGED=1 ;;
    link) [ "$(readlink "$path")" = "$src" ] || DR_CHANGED=1 ;;
    hard|file) [ "$force" = 1 ] || dr_fail "refusing to convert from $prev to symlink for $path"; DR_CHANGED=1 ;;
    directory)
      [ -z "$(ls -A "$path")" ] || dr_fail "the directory $path is not empty, refusing to convert it"
      [ "$force" = 1 ] || dr_fail "refusing to convert from $prev to symlink for $path"
      DR_CHANGED=1 ;;
  esac
  if [ "$DR_CHANGED" = 1 ] && [ "$CHECK" != 1 ]; then
    dr_dirv "$path"; dr_tmpl="$DR_DN/.drover-link.$$"
    dr_forget
    rm -f "$dr_tmpl"
    ln -s "$src" "$dr_tmpl" || dr_fail "Error while linking: $path"
    [ "$prev" = directory ] && rmdir "$path"
    dr_err=$(mv -f "$dr_tmpl" "$path" 2>&1) || { rm -f "$dr_tmpl"; dr_fail "Error while replacing: $dr_err"; }
  fi
  if [ -L "$path" ] || [ -e "$path" ]; then
    if [ "$follow" = 1 ] && [ -e "$path" ]; then dr_attrs "$path" "$owner" "$group" "$mode"; else dr_attrs "$path" "$owner" "$group" ""; fi
  fi
  dr_out64 src "$src" ;;
hard)
  [ -n "$src" ] || dr_fail "src is required for creating new hardlinks"
  [ -e "$src" ] || dr_fail "src does not exist"
  case $prev in
    absent) DR_CHANGED=1 ;;
    hard|file)
      if [ "$(stat -c %d:%i "$path")" != "$(stat -c %d:%i "$src")" ]; then
        [ "$force" = 1 ] || dr_fail "Cannot link: different hard link exists at destination"
        DR_CHANGED=1
      fi ;;
    *) [ "$force" = 1 ] || dr_fail "Cannot link, $prev exists at destination"; DR_CHANGED=1 ;;
  esac
  if [ "$DR_CHANGED" = 1 ] && [ "$CHECK" != 1 ]; then
    dr_dirv "$path"; dr_tmpl="$DR_DN/.drover-link.$$"
    dr_forget
    rm -f "$dr_tmpl"
    ln "$src" "$dr_tmpl" || dr_fail "Error while linking: $path"
    [ "$prev" = directory ] && rmdir "$path"
    dr_err=$(mv -f "$dr_tmpl" "$path" 2>&1) || { rm -f "$dr_tmpl"; dr_fail "Error while replacing: $dr_err"; }
  fi
  if [ -e "$path" ]; then dr_attrs "$path" "$owner" "$group" "$mode"; fi
  dr_out64 src "$src" ;;
esac
dr_ad_out
dr_out64 path "$path"
dr_out state "$state"
dr_out changed "$DR_CHANGED"
dr_stat path. "$path"
`;

/** Ansible's time format (strftime) to the `touch -t` stamp; only the default format is supported. */
function touchStamp(value: string | undefined, format: string): { stamp?: string; error?: string } {
  if (value === undefined || value === 'now' || value === 'preserve') return { stamp: value };
  if (format !== '%Y%m%d%H%M.%S')
    return { error: `time format ${format} is not supported; use the default %Y%m%d%H%M.%S` };
  if (!/^\d{12}\.\d{2}$/.test(value)) {
    return { error: `Error while obtaining timestamp for time ${value} using format ${format}` };
  }
  return { stamp: value };
}

function planFile(args: FileArgs, ctx: PlanContext): Step | TaskResult {
  const attrs = fileAttrs(args as unknown as Record<string, unknown>);
  if (isResult(attrs)) return attrs;
  const m = touchStamp(args.modification_time, args.modification_time_format);
  const a = touchStamp(args.access_time, args.access_time_format);
  if (m.error || a.error) return { failed: true, msg: (m.error ?? a.error) as string };
  if (args.recurse && args.state !== undefined && args.state !== 'directory') {
    return { failed: true, msg: 'recurse option requires state to be directory' };
  }
  if ((args.state === 'link' || args.state === 'hard') && args.src === undefined && args.state === 'hard') {
    return { failed: true, msg: 'src is required for creating new hardlinks' };
  }
  return {
    script: shScript({
      check: ctx.check,
      tmp: ctx.remoteTmp,
      vars: {
        path: shPath(args.path),
        state: args.state,
        src: args.src,
        recurse: args.recurse,
        force: args.force,
        follow: args.follow,
        owner: attrs.owner,
        group: attrs.group,
        mode: attrs.mode,
        mtime: m.stamp,
        atime: a.stamp,
        want_diff: ctx.diff,
      },
      tilde: ['path', 'src'],
      body: FILE_BODY,
    }),
    parse(r) {
      const report = parseReport(r.stdout);
      const failed = failureFrom('file', r, report);
      const path = report.get('path') ?? args.path;
      if (failed) return { ...failed, path };
      const st = parseStat(report, 'path.');
      const res: TaskResult = { changed: report.flag('changed'), path, ...statResult(st) };
      if (st.type === 'file' && report.get('state') === 'hard') res.state = 'hard';
      const src = report.get('src');
      if (src !== undefined) res.src = src;
      // Ansible's touch of a missing path in check mode answers before building a diff.
      const quiet = ctx.check && report.get('prev_state') === 'absent' && report.get('state') === 'touch';
      if (ctx.diff && res.changed && !quiet) res.diff = fileDiff(path, report, ctx.check);
      return res;
    },
  };
}

/**
 * Ansible's file diff: {path} plus state when it changes (with the removed directory's
 * content), plus owner/group (ids), mode and touch times that changed, as sorted JSON.
 */
export function fileDiff(path: string, report: Report, check: boolean): FileDiff {
  const prev = report.get('prev_state') ?? 'absent';
  const state = report.get('state') ?? prev;
  const before: Record<string, unknown> = { path };
  const after: Record<string, unknown> = { path };
  if (prev !== state) {
    before.state = prev;
    after.state = state;
    const walk = report.all('walk');
    if (state === 'absent' && prev === 'directory') before.path_content = osWalk(path, walk);
  }
  // Ansible's check mode returns before any attribute is compared for a new path.
  const fresh = prev === 'absent' && state !== 'absent';
  if (!(check && fresh)) {
    addAttrChanges(report, before, after);
    const tb = report.get('touch.before');
    const ta = report.get('touch.after');
    if (tb !== undefined && ta !== undefined) {
      const [mtime, atime] = tb.split(' ').map(Number);
      before.mtime = mtime;
      after.mtime = Number(ta);
      before.atime = atime;
      after.atime = Number(ta);
    }
  }
  return { before: sortedJson(before), after: sortedJson(after) };
}

/** os.walk order from find's pre-order listing ("d PATH" / "f PATH"): per directory, its subdirectories, then its files, then recurse. */
function osWalk(top: string, entries: string[]): { directories: string[]; files: string[] } {
  const children = new Map<string, { dirs: string[]; files: string[] }>();
  const slot = (dir: string) => {
    let c = children.get(dir);
    if (!c) {
      c = { dirs: [], files: [] };
      children.set(dir, c);
    }
    return c;
  };
  for (const e of entries) {
    const p = e.slice(2);
    const parent = p.slice(0, p.lastIndexOf('/')) || '/';
    if (e.startsWith('d ')) slot(parent).dirs.push(p);
    else slot(parent).files.push(p);
  }
  const out = { directories: [] as string[], files: [] as string[] };
  const walk = (dir: string) => {
    const c = children.get(dir);
    if (!c) return;
    out.directories.push(...c.dirs);
    out.files.push(...c.files);
    for (const d of c.dirs) walk(d);
  };
  walk(top.replace(/\/+$/, '') || '/');
  return out;
}

export const fileModule: Module<FileArgs> = {
  names: ['file', 'ansible.builtin.file', 'ansible.legacy.file'],
  check: 'full',
  diff: true,
  args: {
    options: {
      path: { type: 'path', required: true, aliases: ['dest', 'name'] },
      state: { type: 'str', choices: ['absent', 'directory', 'file', 'hard', 'link', 'touch'] },
      src: { type: 'path' },
      recurse: { type: 'bool', default: false },
      force: { type: 'bool', default: false },
      follow: { type: 'bool', default: true },
      modification_time: { type: 'str' },
      modification_time_format: { type: 'str', default: '%Y%m%d%H%M.%S' },
      access_time: { type: 'str' },
      access_time_format: { type: 'str', default: '%Y%m%d%H%M.%S' },
      ...fileCommonArgs,
    },
  },
  plan: planFile,
};
