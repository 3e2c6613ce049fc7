/**
 * Two-step edits for lineinfile, blockinfile, replace and ini_file: step 1 reads the file
 * back (content, sha1, type), the module computes the new text in TypeScript with Python's
 * regex semantics, step 2 writes it through put.ts only if something changes, guarded by
 * the sha1 read in step 1 so a concurrent change fails instead of being overwritten. A file
 * that does not exist yet is created by step 1 itself (createOrRead, ADR 122).
 */
import { parseReport, type Report } from '../sh/protocol.js';
import { type ShValue, shPath, shScript } from '../sh/script.js';
import { parseStat, type RemoteStat } from '../sh/stat.js';
import { type FileDiff, isStep, type PlanContext, type Step, type TaskResult } from '../types.js';
import { addAttrChanges, type FileAttrs, failureFrom, sortedJson } from './common.js';
import { type PutOptions, putStep, sha1 } from './put.js';

// The sha1 the write step's guard compares with is taken of the content read back, on the
// controller: one process fewer on the target. With owner/group/mode arguments the file's
// attributes come back too, so an unchanged file whose attributes already match needs no
// second round trip.
const READ_BODY = String.raw`
dr_typev "$path"; t=$DR_T; rp=$path
if [ "$t" = link ]; then rp=$(readlink -f "$path"); dr_typev "$rp"; t=$DR_T; fi
dr_out type "$t"
if [ "$t" = file ]; then
  [ -r "$path" ] || dr_fail "Unable to read the contents of $path: permission denied"
  dr_outfile content "$path"
  if [ "$attrs" = 1 ]; then dr_stat cur. "$rp"; fi
fi
`;

export interface EditCurrent {
  exists: boolean;
  content: Buffer;
}

export type EditOutcome =
  | { result: TaskResult }
  | {
      content: Buffer;
      /** Content differs (before attributes). */
      changed: boolean;
      msg: string;
      /** Fields added to the result (found, backup...). */
      extra?: TaskResult;
      /** Ansible's diff for this module (content part). */
      diff?: FileDiff;
      /** Return early in check mode when the file does not exist (Ansible's shape). */
      makeParents?: boolean;
    };

export interface EditOptions {
  module: string;
  path: string;
  attrs: FileAttrs;
  backup: boolean;
  validate?: string;
  /** Also fail with rc 257 when missing (blockinfile/lineinfile without create). */
  onMissing?: (path: string) => TaskResult | undefined;
  edit(cur: EditCurrent): EditOutcome;
  /** Ansible appends this when only attributes changed. */
  attrsMsg?: string;
}

export function editStep(o: EditOptions, ctx: PlanContext): Step {
  const readVars = { path: shPath(o.path), attrs: hasAttrs(o.attrs) };
  const read: Step = {
    script: shScript({ check: ctx.check, vars: readVars, tilde: ['path'], body: READ_BODY }),
    parse(r) {
      const report = parseReport(r.stdout);
      const failed = failureFrom(o.module, r, report);
      if (failed) return failed;
      const t = report.get('type');
      if (t === 'directory') return { failed: true, rc: 256, msg: `Path ${o.path} is a directory !` };
      if (t === 'other') return { failed: true, msg: `Path ${o.path} is not a regular file` };
      const exists = t === 'file';
      if (!exists && o.onMissing) {
        const early = o.onMissing(o.path);
        if (early) return early;
      }
      const outcome = o.edit({ exists, content: report.bytes('content') ?? Buffer.alloc(0) });
      if ('result' in outcome) return outcome.result;
      return writeOutcome(o, outcome, exists, report, ctx);
    },
  };
  return createOrRead(o, ctx, read, readVars) ?? read;
}

/**
 * What an edit writes into a missing file does not depend on the file, so it is worked out
 * before anything is read and sent with the read: the target writes it if the file is
 * still absent, and otherwise answers the read as before (ADR 122). Creating a file then
 * takes one round trip instead of two; an existing file costs what it did.
 */
function createOrRead(
  o: EditOptions,
  ctx: PlanContext,
  read: Step,
  readVars: Record<string, ShValue>,
): Step | undefined {
  if (ctx.check || o.path.endsWith('/') || o.onMissing?.(o.path)) return undefined;
  const outcome = o.edit({ exists: false, content: Buffer.alloc(0) });
  if ('result' in outcome) return undefined;
  const unlessPresent = { vars: readVars, tilde: ['path'], body: READ_BODY };
  const write = writeOutcome(o, outcome, false, parseReport(''), ctx, unlessPresent);
  if (!isStep(write)) return undefined;
  return {
    ...write,
    parse: (r) => (parseReport(r.stdout).flag('present') ? read.parse(r) : write.parse(r)),
  };
}

function hasAttrs(a: FileAttrs): boolean {
  return a.owner !== '' || a.group !== '' || a.mode !== '';
}

/**
 * Whether the file read back already has the wanted owner, group and mode, compared as the
 * prelude's dr_attrs compares them (names with names, ids with ids). A symbolic mode, or a
 * stat that did not come back, is "unknown": the write step decides.
 */
function attrsMatch(a: FileAttrs, st: RemoteStat): boolean {
  if (st.type !== 'file') return false;
  const same = (want: string, name: string | undefined, id: number | undefined): boolean =>
    want === '' || (/^\d+$/.test(want) ? id !== undefined && String(id) === want : name === want);
  if (!same(a.owner, st.owner, st.uid) || !same(a.group, st.group, st.gid)) return false;
  if (a.mode === '') return true;
  return /^[0-7]{4}$/.test(a.mode) && st.mode === a.mode;
}

/** Modules whose Ansible diff is a list with a second "PATH (file attributes)" item. */
const ATTRS_DIFF_ITEM = new Set(['lineinfile', 'blockinfile']);

function writeOutcome(
  o: EditOptions,
  outcome: Exclude<EditOutcome, { result: TaskResult }>,
  exists: boolean,
  report: Report,
  ctx: PlanContext,
  unlessPresent?: PutOptions['unlessPresent'],
): Step | TaskResult {
  const base: TaskResult = { changed: outcome.changed, msg: outcome.msg, ...outcome.extra };
  if (ctx.diff && outcome.diff) base.diff = outcome.diff;
  if (!outcome.changed && (!hasAttrs(o.attrs) || !exists)) return base;
  if (!outcome.changed && attrsMatch(o.attrs, parseStat(report, 'cur.'))) return base;
  if (ctx.check && !exists) return base;
  const sum = exists ? sha1(report.bytes('content') ?? Buffer.alloc(0)) : '';
  return putStep(
    {
      module: o.module,
      dest: o.path,
      content: outcome.content,
      owner: o.attrs.owner,
      group: o.attrs.group,
      mode: o.attrs.mode,
      backup: o.backup && exists,
      ...(o.validate ? { validate: o.validate } : {}),
      follow: true,
      guardSum: exists ? sum : '',
      makeParents: outcome.makeParents ?? false,
      ...(unlessPresent ? { unlessPresent } : {}),
    },
    ctx,
    (res, written) => {
      const out: TaskResult = { ...base, changed: res.changed === true };
      if (res.backup_file !== undefined) out.backup = res.backup_file;
      else if (o.module === 'lineinfile') out.backup = '';
      if (res.backup_file !== undefined) out.backup_file = res.backup_file;
      if (ctx.diff && ATTRS_DIFF_ITEM.has(o.module)) {
        // lineinfile/blockinfile answer [content diff, "(file attributes)" diff]
        const before: Record<string, unknown> = {};
        const after: Record<string, unknown> = {};
        addAttrChanges(written, before, after);
        if (Object.keys(before).length > 0) {
          const header = `${o.path} (file attributes)`;
          const attrs = {
            before: sortedJson(before),
            after: sortedJson(after),
            before_header: header,
            after_header: header,
          };
          const content = (base.diff as FileDiff | undefined) ?? { before: '', after: '' };
          out.diff = [content, attrs];
        }
      }
      if (res.changed && !outcome.changed) {
        out.msg = o.attrsMsg ?? 'ownership, perms or SE linux context changed';
      } else if (res.changed && outcome.changed && written.flag('attrs_changed')) {
        out.msg = `${outcome.msg} and ownership, perms or SE linux context changed`;
      }
      return out;
    },
  );
}

/** Python bytes.splitlines(keepends=True): \n, \r\n and \r end lines. */
export function splitLinesKeep(text: string): string[] {
  const out: string[] = [];
  const re = /[^\r\n]*(\r\n|\n|\r)|[^\r\n]+$/g;
  for (const m of text.matchAll(re)) if (m[0] !== '') out.push(m[0]);
  return out;
}

/** Python readlines(): only \n ends a line. */
export function readLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\n') {
      out.push(text.slice(start, i + 1));
      start = i + 1;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}
