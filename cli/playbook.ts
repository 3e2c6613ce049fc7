/**
 * `drover playbook -i INVENTORY site.yml`: ansible-playbook's flags, output and exit codes.
 * Every playbook named is loaded and validated before any host is contacted.
 */
import { dirname, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { Command } from 'commander';
import { ExitCode, formatProblem, type Problem, ValidationError } from '../src/errors.js';
import { HumanOutput } from '../src/output/human.js';
import { listPlaybook, taskSelectedByTags } from '../src/playbook/list.js';
import {
  type LoadOptions,
  loadPlaybook,
  loadRole,
  loadTasksFile,
  loadVarsFile,
} from '../src/playbook/load.js';
import type { Playbook } from '../src/playbook/types.js';
import { runPlaybook } from '../src/runner/playbook.js';
import type { TaskLoader } from '../src/runner/ports.js';
import { StatusLine } from '../src/runner/status-line.js';
import { addCommonOptions, type CommonOptions, fanOut, OMIT, type Wiring, wire } from './common.js';
import { buildSinks, registerRedactor } from './outputs.js';
import { promptHidden } from './prompt.js';
import { interruptible } from './signals.js';

interface PlaybookOptions extends CommonOptions {
  syntaxCheck?: boolean;
  listHosts?: boolean;
  listTasks?: boolean;
  listTags?: boolean;
  tags?: string[];
  skipTags?: string[];
  forceHandlers?: boolean;
  startAtTask?: string;
  flushCache?: boolean;
  step?: boolean;
}

const collect = (v: string, prev: string[] | undefined) => [
  ...(prev ?? []),
  ...v.split(',').map((s) => s.trim()),
];

export function playbookCommand(): Command {
  const cmd = new Command('playbook')
    .description('run Ansible playbooks (like ansible-playbook)')
    .argument('<playbook...>', 'playbook files, run in order')
    .option('--syntax-check', 'check the playbooks (YAML, keywords, modules, arguments, files) and exit')
    .option('--list-hosts', 'list the hosts each play would run on')
    .option('--list-tasks', 'list the tasks each play would run')
    .option('--list-tags', 'list the tags of each play')
    .option('-t, --tags <tags>', 'only run tasks tagged with these (comma separated, repeatable)', collect)
    .option('--skip-tags <tags>', 'skip tasks tagged with these (comma separated, repeatable)', collect)
    .option('--force-handlers', 'run notified handlers even when a host fails')
    .option('--start-at-task <name>', 'start the playbook at the task with this name')
    .option('--step', 'one-step-at-a-time: confirm each task before running it (y/n/c)')
    .option('--flush-cache', 'accepted for compatibility (drover keeps no fact cache between runs)')
    .option(
      '--detailed-exitcode',
      'exit 0 when nothing changed, 2 when something changed (or would, with --check), 1 on failures or unreachable hosts',
    );
  addCommonOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Exit codes (as ansible-playbook 2.14): 0 success; 2 a host failed; 4 a host unreachable or a
parse/validation error (no host is contacted then); 1 a missing file or other error; 99 interrupted.
With --detailed-exitcode (for CI gates): 0 no changes, 2 changes, 1 failures or unreachable hosts.`,
  );
  cmd.action(async (files: string[], opts: PlaybookOptions) => {
    process.exitCode = await runPlaybookCommand(files, opts);
  });
  return cmd;
}

export /** Questions answered by lines of stdin (a terminal or a pipe); an ended stdin answers ''. */
function lineReader(): ((question: string) => Promise<string>) & {
  close(): void;
  pause(): void;
  resume(): void;
} {
  let rl: Interface | undefined;
  let ended = false;
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  const ask = (question: string): Promise<string> => {
    process.stdout.write(question);
    if (!rl) {
      rl = createInterface({ input: process.stdin, terminal: false });
      rl.on('line', (l) => {
        const w = waiting.shift();
        if (w) w(l);
        else lines.push(l);
      });
      rl.on('close', () => {
        ended = true;
        for (const w of waiting.splice(0)) w('');
      });
    }
    const l = lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (ended) return Promise.resolve('');
    return new Promise((resolve) => waiting.push(resolve));
  };
  return Object.assign(ask, {
    close: () => rl?.close(),
    // While another reader (a hidden prompt on /dev/tty) has the terminal, stdin must not read.
    pause: () => rl?.pause(),
    resume: () => rl?.resume(),
  });
}

export function taskLoader(loadOpts: LoadOptions): TaskLoader {
  return {
    loadTasksFile: async (file, origin) => loadTasksFile(file, loadOpts, origin),
    loadRole: async (name, fromDir, params) => loadRole(name, loadOpts, fromDir, params),
    loadVarsFile: async (file) => loadVarsFile(file, loadOpts),
  };
}

/** How playbooks load for a wired command (drover playbook, drover lint). */
export function playbookLoadOptions(w: Wiring, playbookDir: string): LoadOptions {
  const loadOpts: LoadOptions = {
    decryptVault: (c, where) => w.keyring.decryptText(c, where),
    // decryptText registers every value of the file with the redactor (masked in all output).
    decryptFile: (text, file) => w.keyring.decryptText(text, file),
    extraVars: w.runnerOptions.extraVars,
    playbookDir,
  };
  if (w.config.rolesPath) loadOpts.rolesPath = w.config.rolesPath;
  return loadOpts;
}

async function runPlaybookCommand(files: string[], opts: PlaybookOptions): Promise<number> {
  const playbookDir = dirname(resolve(files[0]!));
  const w = await wire(opts, { playbookDir });
  registerRedactor(w.redactor);
  w.runnerOptions.tags = opts.tags ?? [];
  w.runnerOptions.skipTags = opts.skipTags ?? [];
  w.runnerOptions.forceHandlers = Boolean(opts.forceHandlers);
  if (opts.startAtTask) w.runnerOptions.startAtTask = opts.startAtTask;

  const loadOpts = playbookLoadOptions(w, playbookDir);

  // Load and validate everything first: a problem anywhere stops the run before any host,
  // and the problems of every playbook given are reported, not only the first one's.
  loadOpts.onWarning = (p) => process.stderr.write(`[WARNING]: ${formatProblem(p)}\n`);
  const books: { file: string; pb: Playbook }[] = [];
  const problems: Problem[] = [];
  for (const f of files) {
    try {
      books.push({ file: f, pb: loadPlaybook(f, loadOpts) });
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      problems.push(...e.problems);
    }
  }
  if (problems.length > 0) throw new ValidationError(problems);

  if (opts.syntaxCheck) {
    for (const b of books) process.stdout.write(`\nplaybook: ${b.file}\n`);
    return ExitCode.ok;
  }
  const sel = { only: w.runnerOptions.tags, skip: w.runnerOptions.skipTags };
  if (opts.listTasks || opts.listTags || opts.listHosts) {
    for (const b of books) {
      if (opts.listHosts) {
        process.stdout.write(`\nplaybook: ${b.file}\n`);
        b.pb.plays.forEach((play, i) => {
          const pattern = w.templar.template(play.hosts, w.runnerOptions.extraVars) as string | string[];
          const hosts = w.inventory.selectHosts(pattern, opts.limit ? { limit: opts.limit } : undefined);
          const pat = Array.isArray(pattern) ? pattern : [pattern];
          process.stdout.write(
            `\n  play #${i + 1} (${pat.join(',')}): ${play.name ?? pat.join(',')}\tTAGS: [${play.tags.join(',')}]\n    pattern: ${JSON.stringify(pat).replaceAll('"', "'")}\n    hosts (${hosts.length}):\n${hosts.map((h) => `      ${h}\n`).join('')}`,
          );
        });
      }
      if (opts.listTasks || opts.listTags) {
        const lines = listPlaybook(b.pb, {
          ...sel,
          displayFile: b.file,
          tasks: Boolean(opts.listTasks),
          tags: Boolean(opts.listTags),
        });
        process.stdout.write(`${lines.join('\n')}`);
      }
    }
    return ExitCode.ok;
  }

  // The live status line: only on a terminal, and only under the human output; a pipe
  // (or --output json) never sees it.
  const status =
    process.stdout.isTTY && !(opts.output ?? []).length
      ? new StatusLine({ write: (s) => process.stdout.write(s), columns: () => process.stdout.columns || 80 })
      : undefined;
  const toStdout = (s: string) => process.stdout.write(s);
  const human = new HumanOutput({
    write: status ? status.wrap(toStdout) : toStdout,
    writeErr: status ? status.wrap((s) => process.stderr.write(s)) : (s) => process.stderr.write(s),
    color: Boolean(process.stdout.isTTY) && !w.config.nocolor && !process.env.NO_COLOR,
    verbosity: opts.verbose ?? 0,
    showSkipped: w.config.displaySkippedHosts ?? true,
    showOk: w.config.displayOkHosts ?? true,
  });
  const sink = fanOut([...(status ? [status] : []), ...buildSinks(opts.output, human, w.redactor)]);
  const { signal, dispose } = interruptible(() => w.pool.closeAll());
  const ask = lineReader();
  const step = opts.step
    ? async (name: string): Promise<'y' | 'n' | 'c'> => {
        // ansible-playbook's question; anything but yes or continue means no.
        const a = (await ask(`Perform task: TASK: ${name} (N)o/(y)es/(c)ontinue: `)).trim().toLowerCase();
        return a === 'y' || a === 'yes' ? 'y' : a === 'c' || a === 'continue' ? 'c' : 'n';
      }
    : undefined;
  let exit: number = ExitCode.ok;
  let changed = false;
  try {
    for (const b of books) {
      const outcome = await runPlaybook(b.pb, {
        options: w.runnerOptions,
        inventory: w.inventory,
        templar: w.templar,
        connector: w.connector,
        specs: w.specs,
        loader: taskLoader(loadOpts),
        redactor: w.runRedactor,
        emit: (e) => sink.emit(e),
        omit: OMIT,
        signal,
        selected: (tags: string[]) => taskSelectedByTags(tags, sel),
        interactive: Boolean(process.stdin.isTTY),
        prompt: (question, o) => {
          if (!o.private) return ask(question);
          ask.pause();
          return promptHidden(question).finally(() => ask.resume());
        },
        ...(step ? { step } : {}),
      });
      exit = outcome.exitCode;
      changed ||= Object.values(outcome.stats).some((s) => s.changed > 0);
      if (exit !== ExitCode.ok) break;
    }
  } finally {
    ask.close();
    dispose();
    await sink.close();
  }
  if (opts.detailedExitcode) {
    if (exit === ExitCode.interrupted) return exit;
    if (exit !== ExitCode.ok) return 1;
    return changed ? 2 : 0;
  }
  return exit;
}
