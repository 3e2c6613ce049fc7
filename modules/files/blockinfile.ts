/** blockinfile: Ansible's marker/insert logic over the file read back, written only when it changes. */
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { fileAttrs, fileCommonArgs, isResult } from './common.js';
import { type EditOutcome, editStep, splitLinesKeep } from './edit.js';
import { PyRegexError, pyRegex } from './pyregex.js';

export interface BlockinfileArgs {
  path: string;
  state: 'present' | 'absent';
  marker: string;
  block: string;
  insertafter?: string;
  insertbefore?: string;
  create: boolean;
  backup: boolean;
  validate?: string;
  marker_begin: string;
  marker_end: string;
  mode?: unknown;
  owner?: string;
  group?: string;
}

export function blockinfileEdit(
  original: string | undefined,
  a: BlockinfileArgs,
): { result: string; msg: string; changed: boolean } {
  const lines = original === undefined ? [] : splitLinesKeep(original);
  let { insertafter, insertbefore } = a;
  if (insertbefore === undefined && insertafter === undefined) insertafter = 'EOF';
  let insertre: RegExp | undefined;
  if (insertafter !== undefined && insertafter !== 'EOF') insertre = pyRegex(insertafter);
  else if (insertbefore !== undefined && insertbefore !== 'BOF') insertre = pyRegex(insertbefore);
  const marker0 = `${a.marker.replaceAll('{mark}', a.marker_begin)}\n`;
  const marker1 = `${a.marker.replaceAll('{mark}', a.marker_end)}\n`;
  let blocklines: string[] = [];
  if (a.state === 'present' && a.block !== '') {
    const block = a.block.endsWith('\n') ? a.block : `${a.block}\n`;
    blocklines = [marker0, ...splitLinesKeep(block), marker1];
  }
  let n0: number | undefined;
  let n1: number | undefined;
  lines.forEach((l, i) => {
    if (l === marker0) n0 = i;
    if (l === marker1) n1 = i;
  });
  if (n0 === undefined || n1 === undefined) {
    n0 = undefined;
    if (insertre) {
      if (insertre.flags.includes('m')) {
        const m = insertre.exec(original ?? '');
        if (m) {
          const upto = insertafter !== undefined ? m.index + m[0].length : m.index;
          n0 = ((original ?? '').slice(0, upto).match(/\n/g) ?? []).length;
        }
      } else {
        lines.forEach((l, i) => {
          if (insertre?.exec(l.replace(/\n$/, ''))) n0 = i;
        });
      }
      if (n0 === undefined) n0 = lines.length;
      else if (insertafter !== undefined) n0 += 1;
    } else if (insertbefore !== undefined) n0 = 0;
    else n0 = lines.length;
  } else if (n0 < n1) {
    lines.splice(n0, n1 - n0 + 1);
  } else {
    lines.splice(n1, n0 - n1 + 1);
    n0 = n1;
  }
  if (n0 > 0 && !lines[n0 - 1]!.endsWith('\n')) lines[n0 - 1] += '\n';
  lines.splice(n0, 0, ...blocklines);
  const result = lines.join('');
  if (original === result) return { result, msg: '', changed: false };
  if (original === undefined) return { result, msg: 'File created', changed: true };
  if (blocklines.length === 0) return { result, msg: 'Block removed', changed: true };
  return { result, msg: 'Block inserted', changed: true };
}

function planBlockinfile(args: BlockinfileArgs, ctx: PlanContext): Step | TaskResult {
  const attrs = fileAttrs(args as unknown as Record<string, unknown>);
  if (isResult(attrs)) return attrs;
  if (args.validate !== undefined && !args.validate.includes('%s')) {
    return { failed: true, msg: `validate must contain %s: ${args.validate}` };
  }
  const header = `${args.path} (content)`;
  return editStep(
    {
      module: 'blockinfile',
      path: args.path,
      attrs,
      backup: args.backup,
      ...(args.validate ? { validate: args.validate } : {}),
      onMissing: (path) => {
        if (!args.create) return { failed: true, rc: 257, msg: `Path ${path} does not exist !` };
        if (args.state === 'absent') return { changed: false, msg: `File ${path} not present` };
        return undefined;
      },
      edit(cur): EditOutcome {
        const original = cur.exists ? cur.content.toString('utf8') : undefined;
        try {
          const r = blockinfileEdit(original, args);
          return {
            content: Buffer.from(r.result, 'utf8'),
            changed: r.changed,
            msg: r.msg,
            diff: { before: original ?? '', after: r.result, before_header: header, after_header: header },
            makeParents: args.create,
          };
        } catch (e) {
          if (e instanceof PyRegexError) return { result: { failed: true, msg: e.message } };
          throw e;
        }
      },
    },
    ctx,
  );
}

export const blockinfileModule: Module<BlockinfileArgs> = {
  names: ['blockinfile', 'ansible.builtin.blockinfile', 'ansible.legacy.blockinfile'],
  check: 'full',
  diff: true,
  args: {
    options: {
      path: { type: 'path', required: true, aliases: ['dest', 'destfile', 'name'] },
      state: { type: 'str', default: 'present', choices: ['absent', 'present'] },
      marker: { type: 'str', default: '# {mark} ANSIBLE MANAGED BLOCK' },
      block: { type: 'str', default: '', aliases: ['content'] },
      insertafter: { type: 'str' },
      insertbefore: { type: 'str' },
      create: { type: 'bool', default: false },
      backup: { type: 'bool', default: false },
      validate: { type: 'str' },
      marker_begin: { type: 'str', default: 'BEGIN' },
      marker_end: { type: 'str', default: 'END' },
      ...fileCommonArgs,
    },
    mutuallyExclusive: [['insertbefore', 'insertafter']],
  },
  plan: planBlockinfile,
};
