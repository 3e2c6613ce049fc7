/** ini_file (community.general): a port of do_ini() over the file read back, written only when it changes. */
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { fileAttrs, fileCommonArgs, isResult } from './common.js';
import { type EditOutcome, editStep } from './edit.js';

export interface IniFileArgs {
  path: string;
  section?: string;
  option?: string;
  value?: string;
  values?: string[];
  backup: boolean;
  state: 'absent' | 'present';
  exclusive: boolean;
  no_extra_spaces: boolean;
  allow_no_value: boolean;
  create: boolean;
  mode?: unknown;
  owner?: string;
  group?: string;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
const body = (l: string) => (l.endsWith('\n') ? l.slice(0, -1) : l);

function matchOpt(option: string, line: string): RegExpExecArray | null {
  return new RegExp(`^[#;]?( |\\t)*(${escapeRe(option)})( |\\t)*(=|$)( |\\t)*(.*)`).exec(body(line));
}
function matchActiveOpt(option: string, line: string): RegExpExecArray | null {
  return new RegExp(`^( |\\t)*(${escapeRe(option)})( |\\t)*(=|$)( |\\t)*(.*)`).exec(body(line));
}

/** Text-mode readlines(): universal newlines, BOM dropped. */
function readIniLines(text: string): string[] {
  const t = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  return t.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

export function doIni(
  original: string | undefined,
  a: Pick<
    IniFileArgs,
    'section' | 'option' | 'state' | 'exclusive' | 'no_extra_spaces' | 'allow_no_value'
  > & { values: string[] },
): { result: string; before: string; changed: boolean; msg: string } {
  let section = a.section;
  const option = a.option;
  const values: string[] = [];
  for (const v of a.values) if (!values.includes(v)) values.push(v);
  let iniLines = original === undefined ? [] : readIniLines(original);
  const beforeText = iniLines.join('');
  let changed = false;
  if (iniLines.length === 0) iniLines.push('\n');
  const last = iniLines[iniLines.length - 1]!;
  if (last === '' || !last.endsWith('\n')) {
    iniLines[iniLines.length - 1] = `${last}\n`;
    changed = true;
  }
  const fake = 'ad01e11446efb704fcdbdb21f2c43757423d91c5';
  iniLines.unshift(`[${fake}]`);
  iniLines.push('[');
  if (!section) section = fake;
  let within = !section;
  let sectionStart = 0;
  let sectionEnd = 0;
  let msg = 'OK';
  const fmt = (o: string, v: string) => (a.no_extra_spaces ? `${o}=${v}\n` : `${o} = ${v}\n`);
  let noValuePresent = false;
  const blankOrComment = /^[ \t]*([#;].*)?$/;
  for (let i = 0; i < iniLines.length; i++) {
    const line = iniLines[i]!;
    if (line.startsWith(`[${section}]`)) {
      within = true;
      sectionStart = i;
    } else if (line.startsWith('[')) {
      if (within) {
        sectionEnd = i;
        break;
      }
    }
  }
  const before = iniLines.slice(0, sectionStart);
  let sectionLines = iniLines.slice(sectionStart, sectionEnd);
  const after = iniLines.slice(sectionEnd);
  const changedLines = sectionLines.map(() => 0);
  const update = (index: number, newline: string) => {
    if (sectionLines[index] !== newline) {
      changed = true;
      msg = 'option changed';
    }
    sectionLines[index] = newline;
    changedLines[index] = 1;
  };
  if (a.state === 'present' && option) {
    for (let i = 0; i < sectionLines.length; i++) {
      const m = matchOpt(option, sectionLines[i]!);
      if (!m) continue;
      const matched = m[6] ?? '';
      if (values.length > 0 && values.includes(matched)) {
        if (!matched && a.allow_no_value) {
          update(i, `${option}\n`);
          noValuePresent = true;
        } else update(i, fmt(option, matched));
        values.splice(values.indexOf(matched), 1);
      } else if (values.length === 0 && a.allow_no_value) {
        update(i, `${option}\n`);
        noValuePresent = true;
        break;
      }
    }
  }
  if (a.state === 'present' && a.exclusive && !a.allow_no_value) {
    if (values.length > 0) {
      for (let i = 0; i < sectionLines.length; i++) {
        if (!changedLines[i] && option !== undefined && matchOpt(option, sectionLines[i]!)) {
          update(i, fmt(option, values.shift()!));
          if (values.length === 0) break;
        }
      }
    }
    for (let i = sectionLines.length - 1; i > 0; i--) {
      if (!changedLines[i] && option !== undefined && matchOpt(option, sectionLines[i]!)) {
        sectionLines.splice(i, 1);
        changedLines.splice(i, 1);
        changed = true;
        msg = 'option changed';
      }
    }
  }
  if (a.state === 'present') {
    for (let i = sectionLines.length; i > 0; i--) {
      if (!blankOrComment.test(body(sectionLines[i - 1]!))) {
        if (option && values.length > 0) {
          for (const el of [...values].reverse()) {
            sectionLines.splice(i, 0, fmt(option, el));
            msg = 'option added';
            changed = true;
          }
        } else if (option && values.length === 0 && a.allow_no_value && !noValuePresent) {
          sectionLines.splice(i, 0, `${option}\n`);
          msg = 'option added';
          changed = true;
        }
        break;
      }
    }
  }
  if (a.state === 'absent') {
    if (option) {
      if (a.exclusive) {
        const kept = sectionLines.filter((l) => !matchActiveOpt(option, l));
        if (kept.length !== sectionLines.length) {
          changed = true;
          msg = 'option changed';
          sectionLines = kept;
        }
      } else if (values.length > 0) {
        const kept = sectionLines.filter((l) => {
          const m = matchActiveOpt(option, l);
          return !(m && values.includes(m[6] ?? ''));
        });
        if (kept.length !== sectionLines.length) {
          changed = true;
          msg = 'option changed';
          sectionLines = kept;
        }
      }
    } else if (sectionLines.length > 0) {
      sectionLines = [];
      msg = 'section removed';
      changed = true;
    }
  }
  iniLines = [...before, ...sectionLines, ...after];
  iniLines.shift();
  iniLines.pop();
  if (!within && a.state === 'present') {
    iniLines.push(`[${section}]\n`);
    msg = 'section and option added';
    if (option && values.length > 0) for (const v of values) iniLines.push(fmt(option, v));
    else if (option && values.length === 0 && a.allow_no_value) iniLines.push(`${option}\n`);
    else msg = 'only section added';
    changed = true;
  }
  return { result: iniLines.join(''), before: beforeText, changed, msg };
}

function planIniFile(args: IniFileArgs, ctx: PlanContext): Step | TaskResult {
  const attrs = fileAttrs(args as unknown as Record<string, unknown>);
  if (isResult(attrs)) return attrs;
  if (args.state === 'present' && !args.allow_no_value && args.value === undefined && !args.values?.length) {
    return {
      failed: true,
      msg: "Parameter 'value(s)' must be defined if state=present and allow_no_value=False.",
    };
  }
  const values = args.value !== undefined ? [args.value] : (args.values ?? []);
  const header = `${args.path} (content)`;
  return editStep(
    {
      module: 'ini_file',
      path: args.path,
      attrs,
      backup: args.backup,
      onMissing: (path) =>
        args.create ? undefined : { failed: true, rc: 257, msg: `Destination ${path} does not exist!` },
      edit(cur): EditOutcome {
        const original = cur.exists ? cur.content.toString('utf8') : undefined;
        const r = doIni(original, { ...args, values });
        return {
          content: Buffer.from(r.result, 'utf8'),
          changed: r.changed,
          msg: r.msg,
          extra: { path: args.path },
          diff: { before: r.before, after: r.result, before_header: header, after_header: header },
          makeParents: true,
        };
      },
    },
    ctx,
  );
}

export const iniFileModule: Module<IniFileArgs> = {
  names: ['ini_file', 'community.general.ini_file', 'community.general.files.ini_file'],
  check: 'full',
  diff: true,
  args: {
    options: {
      path: { type: 'path', required: true, aliases: ['dest'] },
      section: { type: 'str' },
      option: { type: 'str' },
      value: { type: 'str' },
      values: { type: 'list', elements: 'str' },
      backup: { type: 'bool', default: false },
      state: { type: 'str', default: 'present', choices: ['absent', 'present'] },
      exclusive: { type: 'bool', default: true },
      no_extra_spaces: { type: 'bool', default: false },
      allow_no_value: { type: 'bool', default: false },
      create: { type: 'bool', default: true },
      ...fileCommonArgs,
    },
    mutuallyExclusive: [['value', 'values']],
  },
  plan: planIniFile,
};
