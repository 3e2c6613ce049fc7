import { quote } from '../../src/shell/quote.js';
import type { Module } from '../types.js';
import { planCommand } from './run-command.js';

export interface RawArgs {
  _raw_params?: string;
  executable?: string;
}

/** raw: the text goes to the target as it is (no creates/removes, no check mode: skipped). */
export const raw: Module<RawArgs> = {
  names: ['raw', 'ansible.builtin.raw', 'ansible.legacy.raw'],
  args: {
    freeForm: true,
    options: { _raw_params: { type: 'str', required: true }, executable: { type: 'path' } },
  },
  check: 'none',
  plan(args, ctx) {
    if (ctx.check) return { skipped: true, changed: false, msg: 'check mode not supported for raw' };
    const text = args._raw_params ?? '';
    const run = args.executable ? `exec ${quote(args.executable)} -c ${quote(text)}` : text;
    return planCommand({ run, cmd: text, shape: 'raw', stripEmptyEnds: false }, ctx);
  },
};
