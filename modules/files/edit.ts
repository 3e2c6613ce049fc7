/**
 * Two-step edits for lineinfile, blockinfile, replace and ini_file: step 1 reads the file
 * back (content, sha1, type), the module computes the new text in TypeScript with Python's
 * regex semantics, step 2 writes it through put.ts only if something changes, guarded by
 * the sha1 read in step 1 so a concurrent change fails instead of being overwritten.
 */
import { parseReport, type Report } from '../sh/protocol.js';
import { shPath, shScript } from '../sh/script.js';
import type { FileDiff, PlanContext, Step, TaskResult } from '../types.js';
import { type FileAttrs, failureFrom } from './common.js';
import { putStep } from './put.js';

const READ_BODY = String.raw`
t=$(dr_type "$path")
if [ "$t" = link ]; then t=$(dr_type "$(readlink -f "$path")"); fi
dr_out type "$t"
if [ "$t" = file ]; then
  [ -r "$path" ] || dr_fail "Unable to read the contents of $path: permission denied"
  dr_out sum "$(dr_sha1 "$path")"
  dr_outfile content "$path"
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
  return {
    script: shScript({ check: ctx.check, vars: { path: shPath(o.path) }, tilde: ['path'], body: READ_BODY }),
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
}

function writeOutcome(
  o: EditOptions,
  outcome: Exclude<EditOutcome, { result: TaskResult }>,
  exists: boolean,
  report: Report,
  ctx: PlanContext,
): Step | TaskResult {
  const hasAttrs = o.attrs.owner !== '' || o.attrs.group !== '' || o.attrs.mode !== '';
  const base: TaskResult = { changed: outcome.changed, msg: outcome.msg, ...outcome.extra };
  if (ctx.diff && outcome.diff) base.diff = outcome.diff;
  if (!outcome.changed && (!hasAttrs || !exists)) return base;
  if (ctx.check && !exists) return base;
  const sum = report.get('sum') ?? '';
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
    },
    ctx,
    (res, written) => {
      const out: TaskResult = { ...base, changed: res.changed === true };
      if (res.backup_file !== undefined) out.backup = res.backup_file;
      else if (o.module === 'lineinfile') out.backup = '';
      if (res.backup_file !== undefined) out.backup_file = res.backup_file;
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
