/**
 * The atomic single-file writer behind copy, template, assemble and the line-editing
 * modules: content travels on stdin, the script compares sha1 sums, writes a temp file in
 * the destination's directory, sets owner/group/mode, runs `validate`, makes the backup and
 * renames into place. Under CHECK=1 the same script only reports.
 */
import { createHash } from 'node:crypto';
import { parseReport, type Report } from '../sh/protocol.js';
import { type ShValue, shPath, shScript } from '../sh/script.js';
import { parseStat } from '../sh/stat.js';
import type { FileDiff, PlanContext, Step, TaskResult } from '../types.js';
import { addAttrChanges, diffText, failureFrom, sortedJson, statResult } from './common.js';

export interface PutOptions {
  /** Module name for messages. */
  module: string;
  dest: string;
  content: Buffer;
  /** When dest is (or, with a trailing '/', will be) a directory, write dest/srcBase. */
  srcBase?: string;
  owner?: string;
  group?: string;
  mode?: string;
  backup?: boolean;
  validate?: string;
  force?: boolean;
  follow?: boolean;
  directoryMode?: string;
  /** Fail unless the destination still has this sha1 ('' = must be absent): two-step edits. */
  guardSum?: string;
  /** Create missing parent directories (lineinfile create=yes). */
  makeParents?: boolean;
  /** Copy this file on the target instead of stdin content (remote_src). */
  fromSrc?: string;
  /** after_header of the diff. */
  srcLabel?: string;
  /**
   * Write only if dest is absent; otherwise run this body instead and answer `present 1`
   * (a two-step edit's read, sent along with the write of a new file: ADR 122).
   */
  unlessPresent?: { vars: Record<string, ShValue>; tilde: string[]; body: string };
}

export function sha1(data: Buffer | string): string {
  return createHash('sha1').update(data).digest('hex');
}

export function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

const PUT_BODY = String.raw`
# the stat cache is trusted: every change below is followed by dr_forget (or moves the entry)
DR_ST_TRUST=1
DR_AD=$want_diff
attrs_diff=0
if [ -n "$from_src" ]; then
  [ -e "$from_src" ] || dr_fail "Source $from_src not found"
  [ -r "$from_src" ] || dr_fail "Source $from_src not readable"
  [ -d "$from_src" ] && dr_fail "Cannot copy invalid source '$from_src': not a file"
  dr_sum_of "$from_src" sha1; want_sum=$DR_SUM
  dr_out checksum "$want_sum"
  dr_sum_of "$from_src" md5 2>/dev/null
  dr_out md5sum "$DR_SUM"
fi
if [ "$slash" = 1 ] && [ ! -d "$dest" ]; then
  if [ "$CHECK" = 1 ]; then dr_out changed 1; dr_out content_changed 1; dr_out64 msg "dest directory $dest would be created"; exit 0; fi
  dr_err=$(mkdir -p "$dest" 2>&1) || dr_fail "Error creating $dest: $dr_err"
  if [ -n "$dir_mode" ]; then chmod "$dir_mode" "$dest" || dr_fail "chmod $dir_mode $dest failed"; fi
fi
if [ -d "$dest" ]; then
  [ -n "$src_base" ] || dr_fail "can not use content with a dir as dest"
  dest="$dest/$src_base"
fi
if [ -L "$dest" ] && [ "$follow" = 1 ]; then dest=$(readlink -f "$dest"); fi
dr_out64 dest "$dest"
dr_typev "$dest"; t=$DR_T
cur_sum=
dr_dirv "$dest"; dir=$DR_DN
if [ "$t" = absent ]; then
  if [ ! -d "$dir" ] && [ "$parents" = 1 ]; then
    if [ "$CHECK" != 1 ]; then dr_err=$(mkdir -p "$dir" 2>&1) || dr_fail "Error creating $dir ($dr_err)"; fi
  elif [ ! -d "$dir" ]; then
    dr_fail "Destination directory $dir does not exist"
  fi
else
  if [ "$force" != 1 ]; then dr_out64 msg "file already exists"; dr_out changed 0; dr_stat dest. "$dest"; exit 0; fi
  [ "$t" = directory ] && dr_fail "$dest is a directory"
  if [ "$t" = file ]; then
    dr_lstat "$dest"
    cur_mode=$DR_ST_MODE cur_ug="$DR_ST_UID:$DR_ST_GID" cur_size=$DR_ST_SIZE
    # a different size is a different content: the checksum is needed only for equal sizes
    # (and for the guard of a two-step edit, which compares checksums)
    if [ "$guard" != 1 ] && [ -n "$want_size" ] && [ -n "$cur_size" ] && [ "$cur_size" != "$want_size" ]; then
      cur_sum=size-differs
    else
      dr_sum_of "$dest" sha1; cur_sum=$DR_SUM
    fi
  fi
  dr_save=$CHECK; CHECK=1; dr_attrs "$dest" "$owner" "$group" "$mode"; CHECK=$dr_save
  attrs_diff=$DR_CHANGED
  dr_out attrs_changed "$DR_CHANGED"; DR_CHANGED=0
fi
if [ "$guard" = 1 ] && [ "$cur_sum" != "$guard_sum" ]; then
  dr_fail "$dest changed while drover was editing it; run the task again"
fi
content_changed=0
if [ "$cur_sum" != "$want_sum" ] || [ "$t" = link ]; then
  content_changed=1
  DR_CHANGED=1
  if [ "$want_diff" = 1 ] && [ "$t" = file ]; then
    if [ "$cur_size" -le 104448 ]; then dr_outfile before "$dest"; else dr_out before_large 1; fi
  fi
  if [ "$want_diff" = 1 ] && [ -n "$from_src" ] && [ "$(stat -c %s "$from_src")" -le 104448 ]; then dr_outfile after "$from_src"; fi
  if [ "$CHECK" != 1 ]; then
    [ -w "$dir" ] || dr_fail "Destination $dir not writable"
    tmp=$(mktemp "$dir/.drover-tmp.XXXXXX") || dr_fail "Destination $dir not writable"
    trap 'rm -f "$tmp"' EXIT
    if [ -n "$from_src" ]; then cat "$from_src" > "$tmp"; else cat > "$tmp"; fi || dr_fail "failed to write $dest"
    dr_lstat "$tmp"
    if [ -n "$from_src" ]; then
      dr_sum_of "$tmp" sha1; [ "$DR_SUM" = "$want_sum" ]
    else
      # stdin arrived whole over an integrity-checked channel: its size is what can go wrong
      [ "$DR_ST_SIZE" = "$want_size" ]
    fi || dr_fail "Copied file does not match the expected checksum. Transfer failed."
    # the new file starts with the replaced file's mode and owner, or a new file's default
    # mode; a numeric mode argument replaces that base at once (one chmod, not two)
    case $mode in
      [0-7][0-7][0-7][0-7]) dr_base=$mode
        # a new file starts with the umask's mode: Ansible's attribute diff shows that change
        if [ "$DR_AD" = 1 ] && [ "$t" != file ]; then
          dr_def=$(umask); dr_def=$(printf %04o "$((0666 & ~0$dr_def))")
          [ "$dr_def" != "$mode" ] && DR_AD_mode="0${'$'}{dr_def#0} 0${'$'}{mode#0}"
        fi ;;
      *) if [ "$t" = file ]; then dr_base=$cur_mode; else dr_base=$(umask); dr_base=$((0666 & ~0$dr_base)); dr_base=$(printf %o "$dr_base"); fi ;;
    esac
    chmod "$dr_base" "$tmp" && DR_ST_MODE=$dr_base
    if [ "$t" = file ] && [ "$cur_ug" != "$DR_ST_UID:$DR_ST_GID" ]; then dr_forget; chown "$cur_ug" "$tmp" 2>/dev/null; fi
    dr_attrs "$tmp" "$owner" "$group" "$mode"
    if [ -n "$validate" ]; then
      dr_forget
      dr_v_out=$(sh -c "$validate" drover-validate "$tmp" 2>&1)
      dr_v_rc=$?
      if [ "$dr_v_rc" != 0 ]; then
        dr_out exit_status "$dr_v_rc"; dr_out64 validate_stderr "$dr_v_out"; dr_fail "failed to validate"
      fi
    fi
    if [ "$backup" = 1 ] && [ "$t" = file ]; then dr_backup "$dest"; fi
    if [ "$t" = link ]; then rm -f "$dest"; fi
    dr_err=$(mv -f "$tmp" "$dest" 2>&1) || { dr_forget; dr_fail "failed to copy to $dest: $dr_err"; }
    trap - EXIT
    # a rename keeps inode, mode, owner, size and times: what was known of the temp file holds for dest
    if [ "$DR_ST_PATH" = "$tmp" ]; then DR_ST_PATH=$dest; else dr_forget; fi
  fi
fi
# the new file got its attributes before the rename; an unchanged one only needs them if they differ
if [ "$content_changed" = 0 ] && [ "$attrs_diff" = 1 ]; then dr_attrs "$dest" "$owner" "$group" "$mode"; fi
dr_out content_changed "$content_changed"
dr_ad_out
dr_out changed "$DR_CHANGED"
dr_stat dest. "$dest"
`;

/** The validate command with `%s` standing for the temp file, passed as "$1" (never spliced). */
function validateCommand(validate: string | undefined): string | undefined {
  if (validate === undefined || validate === '') return undefined;
  // Python's `validate % path`: %s is the file, %% a literal percent sign
  return validate.replace(/%[s%]/g, (m) => (m === '%s' ? '"$1"' : '%'));
}

export function putScript(o: PutOptions, ctx: PlanContext): string {
  const slash = o.dest.endsWith('/') && o.dest.length > 1;
  return shScript({
    check: ctx.check,
    tmp: ctx.remoteTmp,
    vars: {
      ...o.unlessPresent?.vars,
      dest: shPath(slash ? o.dest.replace(/\/+$/, '') : o.dest),
      slash,
      src_base: o.srcBase,
      want_sum: o.fromSrc === undefined ? sha1(o.content) : '',
      want_size: o.fromSrc === undefined ? o.content.length : '',
      from_src: o.fromSrc === undefined ? undefined : shPath(o.fromSrc),
      owner: o.owner,
      group: o.group,
      mode: o.mode,
      backup: o.backup ?? false,
      validate: validateCommand(o.validate),
      force: o.force ?? true,
      follow: o.follow ?? false,
      dir_mode: o.directoryMode,
      guard: o.guardSum !== undefined,
      guard_sum: o.guardSum,
      parents: o.makeParents ?? false,
      want_diff: ctx.diff,
    },
    tilde: ['dest', 'from_src', ...(o.unlessPresent?.tilde ?? [])],
    body: o.unlessPresent
      ? `dr_typev "$dest"\nif [ "$DR_T" != absent ]; then\n${o.unlessPresent.body.trim()}\ndr_out present 1\nexit 0\nfi\n${PUT_BODY}`
      : PUT_BODY,
  });
}

/** Modules whose Ansible action runs `file` when the content is already right. */
const ATTRS_VIA_FILE = new Set(['copy', 'template', 'assemble']);

/** Read a put script's answer into copy-style return values. */
export function putResult(o: PutOptions, report: Report, ctx: PlanContext): TaskResult {
  const dest = report.get('dest') ?? o.dest;
  const st = parseStat(report, 'dest.');
  const res: TaskResult = { changed: report.flag('changed'), dest, ...statResult(st) };
  const msg = report.get('msg');
  if (msg !== undefined) res.msg = msg;
  const backup = report.get('backup_file');
  if (backup !== undefined) res.backup_file = backup;
  if (ctx.diff && report.flag('content_changed')) res.diff = putDiff(dest, report, o);
  else if (ctx.diff && res.changed && ATTRS_VIA_FILE.has(o.module)) {
    // Same content, other owner/group/mode: Ansible's copy action hands over to the file
    // module, whose diff is the attributes as JSON.
    const before: Record<string, unknown> = { path: dest };
    const after: Record<string, unknown> = { path: dest };
    addAttrChanges(report, before, after);
    res.diff = { before: sortedJson(before), after: sortedJson(after) };
  }
  return res;
}

export function putDiff(dest: string, report: Report, o: PutOptions): FileDiff {
  const before = report.has('before') ? diffText(report.bytes('before')) : '';
  return {
    before: before ?? '',
    after: (o.fromSrc === undefined ? diffText(o.content) : diffText(report.bytes('after'))) ?? '',
    before_header: dest,
    after_header: o.srcLabel ?? 'dynamically generated',
  };
}

/** One step that writes `o.content`, then hands the answer to `finish`. */
export function putStep(
  o: PutOptions,
  ctx: PlanContext,
  finish: (res: TaskResult, report: Report) => TaskResult = (r) => r,
): Step {
  const step: Step = {
    script: putScript(o, ctx),
    parse(r) {
      const report = parseReport(r.stdout);
      const failed = failureFrom(o.module, r, report);
      if (failed) return failed;
      return finish(putResult(o, report, ctx), report);
    },
  };
  if (!ctx.check && o.fromSrc === undefined) step.stdin = o.content;
  return step;
}
