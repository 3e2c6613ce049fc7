/**
 * `drover exec PATTERN -m MODULE -a ARGS`: Ansible's ad-hoc command. It is a one-task play
 * run by the same engine, printed the way `ansible` prints it.
 */
import { Command } from 'commander';
import { findModule } from '../modules/index.js';
import { ExitCode, UsageError } from '../src/errors.js';
import { AdhocOutput } from '../src/output/adhoc.js';
import { FREE_FORM_ACTIONS, findAction } from '../src/playbook/actions.js';
import { parseKv } from '../src/playbook/split-args.js';
import type { Play, Playbook, TaskNode } from '../src/playbook/types.js';
import { runPlaybook } from '../src/runner/playbook.js';
import { addCommonOptions, type CommonOptions, fanOut, OMIT, wire } from './common.js';
import { buildSinks, registerRedactor } from './outputs.js';
import { interruptible } from './signals.js';
import { varsFileLoader } from './vars-files.js';

interface ExecOptions extends CommonOptions {
  moduleName: string;
  args?: string;
  oneLine?: boolean;
  listHosts?: boolean;
}

export function execCommand(): Command {
  const cmd = new Command('exec')
    .description('run one module on the hosts matching PATTERN (like `ansible PATTERN -m MODULE -a ARGS`)')
    .argument('<pattern>', 'host pattern: all, a group, globs, ~regex, a:b, a:&b, a:!b')
    .option('-m, --module-name <name>', 'module to run', 'command')
    .option('-a, --args <args>', 'module arguments: key=value pairs, or the command for command/shell/raw')
    .option('-o, --one-line', 'condense output to one line per host')
    .option('--list-hosts', 'list the matching hosts and exit');
  addCommonOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Exit codes (as ansible-core 2.14): 0 all hosts ok; 2 a host failed; 4 a host unreachable
or a parse error; 1 an error such as a missing file; 99 interrupted.`,
  );
  cmd.action(async (pattern: string, opts: ExecOptions) => {
    process.exitCode = await runExec(pattern, opts);
  });
  return cmd;
}

export function adhocTask(moduleName: string, args: string | undefined): TaskNode {
  const module = findModule(moduleName);
  const action = findAction(moduleName);
  if (!module && !action) {
    throw new UsageError(`couldn't resolve module/action '${moduleName}'`, 'check the module name after -m');
  }
  const canonical = module?.names[0] ?? action!.names[0]!;
  let parsed: Record<string, unknown> = {};
  if (args !== undefined && args.trim() !== '') {
    const freeForm = FREE_FORM_ACTIONS.has(canonical) || module?.args.freeForm === true;
    parsed = parseKv(args, freeForm);
  }
  return {
    kind: 'task',
    id: 'adhoc:0',
    name: moduleName,
    action: canonical,
    actionAs: moduleName,
    args: parsed,
    when: [],
    tags: [],
    keywords: {},
    origin: { baseDir: process.cwd() },
    pos: { file: '<command line>', line: 1, col: 1 },
  };
}

async function runExec(pattern: string, opts: ExecOptions): Promise<number> {
  const w = await wire(opts);
  registerRedactor(w.redactor);
  if (opts.listHosts) {
    const hosts = w.inventory.selectHosts(pattern, opts.limit ? { limit: opts.limit } : undefined);
    process.stdout.write(`  hosts (${hosts.length}):\n${hosts.map((h) => `    ${h}\n`).join('')}`);
    return ExitCode.ok;
  }
  const task = adhocTask(opts.moduleName, opts.args);
  const play: Play = {
    kind: 'play',
    id: 'adhoc',
    name: `Ansible Ad-Hoc`,
    hosts: pattern,
    gather_facts: false,
    vars_files: [],
    vars_prompt: [],
    roles: [],
    pre_tasks: [],
    tasks: [task],
    post_tasks: [],
    handlers: [],
    tags: [],
    keywords: {},
    baseDir: process.cwd(),
    file: '<command line>',
    pos: task.pos,
  };
  const pb: Playbook = { file: '<command line>', plays: [play] };
  const human = new AdhocOutput({
    write: (s) => process.stdout.write(s),
    writeErr: (s) => process.stderr.write(s),
    color: Boolean(process.stdout.isTTY) && !w.config.nocolor && !process.env.NO_COLOR,
    oneline: Boolean(opts.oneLine),
    verbosity: opts.verbose ?? 0,
  });
  const sink = fanOut(buildSinks(opts.output, human, w.redactor));
  const { signal, dispose } = interruptible(() => w.pool.closeAll());
  try {
    const outcome = await runPlaybook(pb, {
      options: w.runnerOptions,
      inventory: w.inventory,
      templar: w.templar,
      connector: w.connector,
      specs: w.specs,
      loader: varsFileLoader(w.keyring),
      redactor: w.runRedactor,
      emit: (e) => sink.emit(e),
      omit: OMIT,
      signal,
    });
    return outcome.exitCode;
  } finally {
    dispose();
    await sink.close();
  }
}
