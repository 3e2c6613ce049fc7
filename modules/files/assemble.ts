/**
 * assemble: concatenate a directory of fragments (on the target by default, or on the
 * controller with remote_src=no) in name order, with Ansible's delimiter and newline rules,
 * then write through the atomic writer.
 */
import { parseReport } from '../sh/protocol.js';
import { shPath, shScript } from '../sh/script.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { failureFrom, fileAttrs, fileCommonArgs, isResult } from './common.js';
import { ansibleDiffHeaders } from './copy.js';
import { md5, putStep, sha1 } from './put.js';
import { PyRegexError, pyRegex } from './pyregex.js';

export interface AssembleArgs {
  src: string;
  dest: string;
  backup: boolean;
  delimiter?: string;
  remote_src: boolean;
  regexp?: string;
  ignore_hidden: boolean;
  validate?: string;
  mode?: unknown;
  owner?: string;
  group?: string;
}

const LIST_BODY = String.raw`
[ -d "$src" ] || dr_fail "Source ($src) is not a directory"
for f in "$src"/* "$src"/.[!.]* "$src"/..?*; do
  [ -f "$f" ] || continue
  dr_out64 n "${'$'}{f##*/}"
  dr_outfile c "$f"
done
`;

/** Python's codecs.escape_decode for the delimiter: \n, \t, \\, \xNN, octal. */
function escapeDecode(s: string): Buffer {
  const out: number[] = [];
  const bytes = Buffer.from(s, 'utf8');
  const map: Record<string, number> = {
    n: 10,
    t: 9,
    r: 13,
    '\\': 92,
    "'": 39,
    '"': 34,
    a: 7,
    b: 8,
    f: 12,
    v: 11,
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 92 || i + 1 >= bytes.length) {
      out.push(b);
      continue;
    }
    const n = String.fromCharCode(bytes[i + 1]!);
    const hex = /^x([0-9a-fA-F]{2})/.exec(bytes.subarray(i + 1, i + 4).toString('latin1'));
    const oct = /^[0-7]{1,3}/.exec(bytes.subarray(i + 1, i + 4).toString('latin1'));
    if (hex) {
      out.push(Number.parseInt(hex[1]!, 16));
      i += 3;
    } else if (oct) {
      out.push(Number.parseInt(oct[0], 8) & 0xff);
      i += oct[0].length;
    } else if (n in map) {
      out.push(map[n]!);
      i += 1;
    } else out.push(b);
  }
  return Buffer.from(out);
}

export function assembleFragments(
  fragments: { name: string; content: Buffer }[],
  opts: { delimiter?: string | undefined; regexp?: RegExp | undefined; ignoreHidden: boolean },
): Buffer {
  const parts: Buffer[] = [];
  let delimitMe = false;
  let addNewline = false;
  const sorted = [...fragments].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const f of sorted) {
    if (opts.regexp && !opts.regexp.exec(f.name)) continue;
    if (opts.ignoreHidden && f.name.startsWith('.')) continue;
    if (addNewline) parts.push(Buffer.from('\n'));
    if (delimitMe && opts.delimiter) {
      const d = escapeDecode(opts.delimiter);
      parts.push(d);
      if (d[d.length - 1] !== 10) parts.push(Buffer.from('\n'));
    }
    parts.push(f.content);
    delimitMe = true;
    addNewline = !(f.content.length > 0 && f.content[f.content.length - 1] === 10);
  }
  return Buffer.concat(parts);
}

async function planAssemble(args: AssembleArgs, ctx: PlanContext): Promise<Step | TaskResult> {
  const attrs = fileAttrs(args as unknown as Record<string, unknown>);
  if (isResult(attrs)) return attrs;
  if (args.validate !== undefined && !args.validate.includes('%s')) {
    return { failed: true, msg: `validate must contain %s: ${args.validate}` };
  }
  let regexp: RegExp | undefined;
  try {
    if (args.regexp !== undefined) regexp = pyRegex(args.regexp);
  } catch (e) {
    if (e instanceof PyRegexError) return { failed: true, msg: e.message };
    throw e;
  }
  const write = (content: Buffer): Step =>
    putStep(
      {
        module: 'assemble',
        dest: args.dest,
        content,
        owner: attrs.owner,
        group: attrs.group,
        mode: attrs.mode,
        backup: args.backup,
        ...(args.validate ? { validate: args.validate } : {}),
        // Ansible assembles controller fragments into a temp file and diffs against that
        // (a random path); with remote_src the module runs on the target and returns no diff.
        srcLabel: 'dynamically generated',
      },
      ctx,
      (res, report) => {
        const shaped = ansibleDiffHeaders(res, report);
        if (args.remote_src) delete shaped.diff;
        return { ...shaped, src: args.src, checksum: sha1(content), md5sum: md5(content) };
      },
    );
  const opts = { delimiter: args.delimiter, regexp, ignoreHidden: args.ignore_hidden };
  if (!args.remote_src) {
    const found = ctx.files.find('files', args.src);
    if (found === undefined) return { failed: true, msg: `Source (${args.src}) is not a directory` };
    const entries = (await ctx.files.walk(found)).filter((e) => !e.path.includes('/') && e.type !== 'dir');
    const fragments: { name: string; content: Buffer }[] = [];
    for (const e of entries) {
      try {
        fragments.push({
          name: e.path,
          content: await ctx.files.read(`${found.replace(/\/+$/, '')}/${e.path}`),
        });
      } catch {
        // a dangling link or a link to a directory is not a fragment (os.path.isfile is false)
      }
    }
    return write(assembleFragments(fragments, opts));
  }
  return {
    script: shScript({ check: ctx.check, vars: { src: shPath(args.src) }, tilde: ['src'], body: LIST_BODY }),
    parse(r) {
      const report = parseReport(r.stdout);
      const failed = failureFrom('assemble', r, report);
      if (failed) return failed;
      const names = report.allBytes('n').map((b) => b.toString('utf8'));
      const contents = report.allBytes('c');
      const fragments = names.map((name, i) => ({ name, content: contents[i] ?? Buffer.alloc(0) }));
      return write(assembleFragments(fragments, opts));
    },
  };
}

export const assembleModule: Module<AssembleArgs> = {
  names: ['assemble', 'ansible.builtin.assemble', 'ansible.legacy.assemble'],
  // Ansible's assemble does not support check mode (the task is skipped); the planner
  // itself would honour CHECK=1, but parity with Ansible's recap wins.
  check: 'none',
  diff: true,
  args: {
    options: {
      src: { type: 'path', required: true },
      dest: { type: 'path', required: true },
      backup: { type: 'bool', default: false },
      delimiter: { type: 'str' },
      remote_src: { type: 'bool', default: true },
      regexp: { type: 'str' },
      ignore_hidden: { type: 'bool', default: false },
      validate: { type: 'str' },
      decrypt: { type: 'bool', default: true },
      ...fileCommonArgs,
    },
  },
  plan: planAssemble,
};
