/**
 * drover: run Ansible playbooks unchanged, faster. This file only parses arguments and
 * maps errors to exit codes; the engine lives in src/. cli/drover.ts starts it.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { DroverError, ExitCode, formatProblem, ValidationError } from '../src/errors.js';
import { maskForDisplay } from './outputs.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

function printError(e: unknown): number {
  // Vault values can reach an error message (a file name templated from one): mask them.
  const stderr = { write: (text: string) => process.stderr.write(maskForDisplay(text)) };
  if (e instanceof ValidationError) {
    const errors = e.problems.filter((p) => p.severity !== 'warning');
    for (const w of e.problems.filter((p) => p.severity === 'warning'))
      stderr.write(`[WARNING]: ${formatProblem(w)}\n`);
    stderr.write(
      errors.length === 1
        ? `ERROR! ${formatProblem(errors[0]!)}\n`
        : `ERROR! ${errors.length} problems found:\n${errors.map((p) => `  - ${formatProblem(p).replaceAll('\n', '\n    ')}`).join('\n')}\n`,
    );
    return e.exitCode;
  }
  if (e instanceof DroverError) {
    stderr.write(`ERROR! ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
    return e.exitCode;
  }
  const err = e as Error;
  stderr.write(
    `ERROR! Unexpected error: ${err?.message ?? String(e)}\nThis is a bug in drover; please report it with the command you ran.\n${process.env.DROVER_DEBUG ? `${err?.stack}\n` : ''}`,
  );
  return ExitCode.internal;
}

/**
 * Sub-commands, loaded on demand: a run loads only the one it names (the image builder and
 * the infra engine are a noticeable share of start-up, which every task pays once per run).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  playbook: async () => (await import('./playbook.js')).playbookCommand(),
  exec: async () => (await import('./exec.js')).execCommand(),
  inventory: async () => (await import('./inventory.js')).inventoryCommand(),
  vault: async () => (await import('./vault.js')).vaultCommand(),
  lint: async () => (await import('./lint.js')).lintCommand(),
  build: async () => (await import('./build.js')).buildCommand(),
  infra: async () => (await import('./infra.js')).infraCommand(),
};

/** The program with `only` registered, or every sub-command (help, a typo, no command). */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('drover')
    .version(version(), '--version')
    .description(
      'Run Ansible playbooks, roles and inventories unchanged over SSH, fast; build images; apply infrastructure.',
    )
    .showSuggestionAfterError(true)
    .exitOverride();
  const names = only !== undefined && Object.hasOwn(COMMANDS, only) ? [only] : Object.keys(COMMANDS);
  for (const c of await Promise.all(names.map((n) => COMMANDS[n]!()))) program.addCommand(c);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** Runs the command line in process.argv; sets process.exitCode. */
export async function main(): Promise<void> {
  // `drover ... | head` closes the pipe early: stop quietly, as a Unix tool should.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  // The first non-option argument names the sub-command (root options take no values).
  try {
    const program = await buildProgram(process.argv.slice(2).find((a) => !a.startsWith('-')));
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      ) {
        process.exitCode = 0;
      } else {
        process.exitCode = ExitCode.usage;
      }
      return;
    }
    process.exitCode = printError(e);
  }
}
