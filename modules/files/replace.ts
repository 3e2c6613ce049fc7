/** replace: Python re.subn with MULTILINE over the file (optionally a before/after section), on the controller. */
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { fileAttrs, fileCommonArgs, isResult } from './common.js';
import { type EditOutcome, editStep } from './edit.js';
import { PyRegexError, pyRegex, pySubn } from './pyregex.js';

export interface ReplaceArgs {
  path: string;
  regexp: string;
  replace: string;
  after?: string;
  before?: string;
  backup: boolean;
  validate?: string;
  encoding: string;
  mode?: unknown;
  owner?: string;
  group?: string;
}

export function replaceEdit(
  contents: string,
  a: Pick<ReplaceArgs, 'regexp' | 'replace' | 'after' | 'before'>,
): { result: string; count: number; msg: string; changed: boolean } {
  let pattern = '';
  if (a.after && a.before) pattern = `${a.after}(?P<subsection>.*?)${a.before}`;
  else if (a.after) pattern = `${a.after}(?P<subsection>.*)`;
  else if (a.before) pattern = `(?P<subsection>.*)${a.before}`;
  let section = contents;
  let indices: [number, number] | undefined;
  if (pattern) {
    const re = pyRegex(pattern, 'sd');
    const m = re.exec(contents);
    if (!m?.indices?.groups?.subsection) {
      return {
        result: contents,
        count: 0,
        changed: false,
        msg: `Pattern for before/after params did not match the given file: ${pattern}`,
      };
    }
    indices = m.indices.groups.subsection;
    section = m.groups?.subsection ?? '';
  }
  const [replaced, count] = pySubn(pyRegex(a.regexp, 'm'), a.replace, section);
  if (count > 0 && replaced !== section) {
    const result = indices ? contents.slice(0, indices[0]) + replaced + contents.slice(indices[1]) : replaced;
    return { result, count, changed: true, msg: `${count} replacements made` };
  }
  return { result: contents, count: 0, changed: false, msg: '' };
}

function planReplace(args: ReplaceArgs, ctx: PlanContext): Step | TaskResult {
  const attrs = fileAttrs(args as unknown as Record<string, unknown>);
  if (isResult(attrs)) return attrs;
  if (args.validate !== undefined && !args.validate.includes('%s')) {
    return { failed: true, msg: `validate must contain %s: ${args.validate}` };
  }
  try {
    pyRegex(args.regexp, 'm');
  } catch (e) {
    return { failed: true, msg: (e as Error).message };
  }
  return editStep(
    {
      module: 'replace',
      path: args.path,
      attrs,
      backup: args.backup,
      ...(args.validate ? { validate: args.validate } : {}),
      onMissing: (path) => ({ failed: true, rc: 257, msg: `Path ${path} does not exist !` }),
      edit(cur): EditOutcome {
        const contents = cur.content.toString(args.encoding === 'latin-1' ? 'latin1' : 'utf8');
        try {
          const r = replaceEdit(contents, args);
          const out: EditOutcome = { content: Buffer.from(r.result, 'utf8'), changed: r.changed, msg: r.msg };
          if (r.changed)
            out.diff = {
              before_header: args.path,
              before: contents,
              after_header: args.path,
              after: r.result,
            };
          return out;
        } catch (e) {
          if (e instanceof PyRegexError) return { result: { failed: true, msg: e.message } };
          throw e;
        }
      },
    },
    ctx,
  );
}

export const replaceModule: Module<ReplaceArgs> = {
  names: ['replace', 'ansible.builtin.replace', 'ansible.legacy.replace'],
  check: 'full',
  diff: true,
  args: {
    options: {
      path: { type: 'path', required: true, aliases: ['dest', 'destfile', 'name'] },
      regexp: { type: 'str', required: true },
      replace: { type: 'str', default: '' },
      after: { type: 'str' },
      before: { type: 'str' },
      backup: { type: 'bool', default: false },
      validate: { type: 'str' },
      encoding: { type: 'str', default: 'utf-8' },
      ...fileCommonArgs,
    },
  },
  plan: planReplace,
};
