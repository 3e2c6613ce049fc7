import { quote } from '../../src/shell/quote.js';
import { shlexSplit } from '../../src/shell/shlex.js';
import type { RunResult } from '../../src/transport/types.js';
import { type ArgSpec, isStep, type Module, type Step, type TaskResult } from '../types.js';
import { planCommand } from './run-command.js';

export const commandArgs: ArgSpec = {
  freeForm: true,
  options: {
    _raw_params: { type: 'str' },
    cmd: { type: 'str' },
    argv: { type: 'list', elements: 'str' },
    chdir: { type: 'path' },
    executable: { type: 'path' },
    creates: { type: 'path' },
    removes: { type: 'path' },
    stdin: { type: 'str' },
    stdin_add_newline: { type: 'bool', default: true },
    strip_empty_ends: { type: 'bool', default: true },
    warn: { type: 'bool' },
    expand_argument_vars: { type: 'bool', default: true },
  },
  mutuallyExclusive: [['_raw_params', 'cmd', 'argv']],
};

export interface CommandArgs {
  _raw_params?: string;
  cmd?: string;
  argv?: string[];
  chdir?: string;
  creates?: string;
  removes?: string;
  stdin?: string;
  stdin_add_newline: boolean;
  strip_empty_ends: boolean;
  expand_argument_vars: boolean;
}

/**
 * One argv word as sh text with Python's os.path.expanduser + expandvars applied on the
 * target (the command module does this for every argument): `$NAME` expands when set and
 * stays literal when not; a leading `~` or `~/` becomes $HOME. Everything else is literal.
 */
export function expandedWord(arg: string): string {
  if (!arg.includes('$') && !arg.startsWith('~')) return quote(arg);
  let rest = arg;
  let out = '';
  if (rest === '~' || rest.startsWith('~/')) {
    out += '"$HOME"';
    rest = rest.slice(1);
  }
  const re = /\$([A-Za-z_][A-Za-z0-9_]*)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
  let last = 0;
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    if (m.index > last) out += quote(rest.slice(last, m.index));
    const name = m[1] ?? m[2]!;
    const literal = m[0].replaceAll('$', '\\$').replaceAll('{', '\\{').replaceAll('}', '\\}');
    out += m[1] ? `"\${${name}-${literal}}"` : `"\${${name}-\\$\\{${name}\\}}"`;
    last = m.index + m[0].length;
  }
  if (last < rest.length) out += quote(rest.slice(last));
  return out === '' ? "''" : out;
}

function notFound(r: RunResult, argv0: string): TaskResult | undefined {
  if (r.rc === 127 && /not found|No such file/.test(r.stderr)) {
    return {
      failed: true,
      changed: false,
      rc: 2,
      cmd: argv0,
      msg: `[Errno 2] No such file or directory: b'${argv0}'`,
      stdout: '',
      stderr: '',
    };
  }
  return undefined;
}

export const command: Module<CommandArgs> = {
  names: ['command', 'ansible.builtin.command', 'ansible.legacy.command'],
  args: commandArgs,
  check: 'partial',
  plan(args, ctx) {
    let argv: string[];
    try {
      argv = args.argv ?? shlexSplit(args._raw_params ?? args.cmd ?? '');
    } catch (e) {
      return {
        failed: true,
        changed: false,
        msg: `unable to parse the command line: ${(e as Error).message}`,
      };
    }
    if (argv.length === 0) return { failed: true, changed: false, rc: 256, msg: 'no command given' };
    const words = args.expand_argument_vars ? argv.map(expandedWord) : argv.map((a) => quote(a));
    const stdin = args.stdin === undefined ? undefined : args.stdin + (args.stdin_add_newline ? '\n' : '');
    const planned = planCommand(
      {
        run: `exec ${words.join(' ')}`,
        cmd: argv,
        chdir: args.chdir,
        creates: args.creates,
        removes: args.removes,
        stdin,
        stripEmptyEnds: args.strip_empty_ends,
      },
      ctx,
    );
    if (!isStep(planned)) return planned;
    const step: Step = {
      ...planned,
      parse: (r) => notFound(r, argv[0]!) ?? planned.parse(r),
    };
    return step;
  },
};
