/**
 * template: render on the controller with the task's variables (ctx.render), then write
 * like copy with content. Jinja options (trim_blocks, lstrip_blocks, block/variable
 * strings, output_encoding) are accepted; the template engine owns their effect.
 */
import type { Module, PlanContext, Step, TaskResult } from '../types.js';
import { basename, fileAttrs, fileCommonArgs, isResult } from './common.js';
import { ansibleDiffHeaders } from './copy.js';
import { md5, putStep, sha1 } from './put.js';

export interface TemplateArgs {
  src: string;
  dest: string;
  backup: boolean;
  force: boolean;
  follow: boolean;
  validate?: string;
  newline_sequence: string;
  mode?: unknown;
  owner?: string;
  group?: string;
}

async function planTemplate(args: TemplateArgs, ctx: PlanContext): Promise<Step | TaskResult> {
  const attrs = fileAttrs(args as unknown as Record<string, unknown>, { allowPreserve: true });
  if (isResult(attrs)) return attrs;
  if (args.validate !== undefined && !args.validate.includes('%s')) {
    return { failed: true, msg: `validate must contain %s: ${args.validate}` };
  }
  const found = ctx.files.find('templates', args.src);
  if (found === undefined) return { failed: true, msg: `Could not find or access '${args.src}'` };
  let text: string;
  try {
    text = (await ctx.files.read(found)).toString('utf8');
  } catch (e) {
    return { failed: true, msg: `Could not read template ${found}: ${(e as Error).message}` };
  }
  let rendered: string;
  try {
    rendered = await ctx.render(text, { path: found });
  } catch (e) {
    return {
      failed: true,
      msg: `AnsibleError: template error while templating string: ${(e as Error).message}`,
    };
  }
  if (args.newline_sequence !== '\n') rendered = rendered.replace(/\r?\n/g, args.newline_sequence);
  const content = Buffer.from(rendered, 'utf8');
  let mode = attrs.mode;
  if (mode === 'preserve') {
    const dir = found.slice(0, Math.max(found.lastIndexOf('/'), 0)) || '.';
    const entry = (await ctx.files.walk(dir)).find((e) => e.path === basename(found));
    mode = entry ? (entry.mode & 0o7777).toString(8).padStart(4, '0') : '';
  }
  const o = {
    module: 'template',
    dest: args.dest,
    content,
    srcBase: basename(args.src),
    // Ansible's template action renders into a controller temp file and names that file as the
    // diff's after header; drover names no file (as copy with content does).
    srcLabel: 'dynamically generated',
    owner: attrs.owner,
    group: attrs.group,
    mode,
    backup: args.backup,
    force: args.force,
    follow: args.follow,
    ...(args.validate ? { validate: args.validate } : {}),
  };
  return putStep(o, ctx, (res, report) => ({
    ...ansibleDiffHeaders(res, report),
    src: found,
    checksum: sha1(content),
    md5sum: md5(content),
  }));
}

export const templateModule: Module<TemplateArgs> = {
  names: ['template', 'ansible.builtin.template', 'ansible.legacy.template'],
  check: 'full',
  diff: true,
  args: {
    options: {
      src: { type: 'path', required: true },
      dest: { type: 'path', required: true },
      backup: { type: 'bool', default: false },
      force: { type: 'bool', default: true },
      follow: { type: 'bool', default: false },
      validate: { type: 'str' },
      newline_sequence: { type: 'str', default: '\n', choices: ['\n', '\r', '\r\n'] },
      trim_blocks: { type: 'bool', default: true },
      lstrip_blocks: { type: 'bool', default: false },
      block_start_string: { type: 'str' },
      block_end_string: { type: 'str' },
      variable_start_string: { type: 'str' },
      variable_end_string: { type: 'str' },
      comment_start_string: { type: 'str' },
      comment_end_string: { type: 'str' },
      output_encoding: { type: 'str', default: 'utf-8' },
      ...fileCommonArgs,
    },
  },
  plan: planTemplate,
};
