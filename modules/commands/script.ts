import { quote } from '../../src/shell/quote.js';
import { shlexSplit } from '../../src/shell/shlex.js';
import type { Module } from '../types.js';
import { planCommand } from './run-command.js';

export interface ScriptArgs {
  _raw_params?: string;
  cmd?: string;
  chdir?: string;
  creates?: string;
  removes?: string;
  executable?: string;
  decrypt: boolean;
}

/**
 * script: a controller file runs on the target. Its bytes travel on the exec's stdin into a
 * private temp file, so the whole task stays one round trip; arguments after the path are
 * shell text, as in Ansible.
 */
export const script: Module<ScriptArgs> = {
  names: ['script', 'ansible.builtin.script', 'ansible.legacy.script'],
  args: {
    freeForm: true,
    options: {
      _raw_params: { type: 'str' },
      cmd: { type: 'str' },
      chdir: { type: 'path' },
      creates: { type: 'path' },
      removes: { type: 'path' },
      executable: { type: 'str' },
      decrypt: { type: 'bool', default: true },
    },
    requiredOneOf: [['_raw_params', 'cmd']],
  },
  check: 'partial',
  async plan(args, ctx) {
    const text = (args._raw_params ?? args.cmd ?? '').trim();
    let path: string;
    try {
      path = shlexSplit(text)[0] ?? '';
    } catch (e) {
      return { failed: true, changed: false, msg: (e as Error).message };
    }
    const rest = text.slice(text.indexOf(path) + path.length).trim();
    const found = ctx.files.find('files', path);
    if (!found)
      return {
        failed: true,
        changed: false,
        msg: `Could not find or access '${path}' on the Ansible Controller.`,
      };
    const body = await ctx.files.read(found);
    const exe = args.executable ? `${quote(args.executable)} ` : '';
    return planCommand(
      {
        prelude: `__s=$(mktemp "\${TMPDIR:-/tmp}/drover-script.XXXXXX") && cat > "$__s" && chmod 700 "$__s" || exit 1`,
        run: `${exe}"$__s"${rest ? ` ${rest}` : ''}`,
        epilogue: 'rm -f "$__s"',
        cmd: text,
        chdir: args.chdir,
        creates: args.creates,
        removes: args.removes,
        stdin: body,
        shape: 'raw',
      },
      ctx,
    );
  },
};
