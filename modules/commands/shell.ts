import { quote } from '../../src/shell/quote.js';
import type { ArgSpec, Module } from '../types.js';
import { planCommand } from './run-command.js';

export const shellArgs: ArgSpec = {
  freeForm: true,
  options: {
    _raw_params: { type: 'str' },
    cmd: { type: 'str' },
    chdir: { type: 'path' },
    executable: { type: 'path' },
    creates: { type: 'path' },
    removes: { type: 'path' },
    stdin: { type: 'str' },
    stdin_add_newline: { type: 'bool', default: true },
    strip_empty_ends: { type: 'bool', default: true },
    warn: { type: 'bool' },
  },
  mutuallyExclusive: [['_raw_params', 'cmd']],
  requiredOneOf: [['_raw_params', 'cmd']],
};

export interface ShellArgs {
  _raw_params?: string;
  cmd?: string;
  chdir?: string;
  executable?: string;
  creates?: string;
  removes?: string;
  stdin?: string;
  stdin_add_newline: boolean;
  strip_empty_ends: boolean;
}

export const shell: Module<ShellArgs> = {
  names: ['shell', 'ansible.builtin.shell', 'ansible.legacy.shell'],
  args: shellArgs,
  check: 'partial',
  plan(args, ctx) {
    const text = args._raw_params ?? args.cmd ?? '';
    const exe = args.executable ?? '/bin/sh';
    return planCommand(
      {
        run: `exec ${quote(exe)} -c ${quote(text)}`,
        cmd: text,
        chdir: args.chdir,
        creates: args.creates,
        removes: args.removes,
        stdin: args.stdin === undefined ? undefined : args.stdin + (args.stdin_add_newline ? '\n' : ''),
        stripEmptyEnds: args.strip_empty_ends,
      },
      ctx,
    );
  },
};
