#!/usr/bin/env node
/**
 * drover: run Ansible playbooks unchanged, faster. This file only parses arguments and
 * maps errors to exit codes; the engine lives in src/.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { DroverError, ExitCode, formatProblem, ValidationError } from '../src/errors.js';
import { buildCommand } from './build.js';
import { execCommand } from './exec.js';
import { infraCommand } from './infra.js';
import { inventoryCommand } from './inventory.js';
import { lintCommand } from './lint.js';
import { maskForDisplay } from './outputs.js';
import { playbookCommand } from './playbook.js';
import { vaultCommand } from './vault.js';

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

export function buildProgram(): Command {
  const program = new Command('drover')
    .version(version(), '--version')
    .description(
      'Run Ansible playbooks, roles and inventories unchanged over SSH, fast; build images; apply infrastructure.',
    )
    .showSuggestionAfterError(true)
    .exitOverride();
  program.addCommand(playbookCommand());
  program.addCommand(execCommand());
  program.addCommand(inventoryCommand());
  program.addCommand(vaultCommand());
  program.addCommand(lintCommand());
  program.addCommand(buildCommand());
  program.addCommand(infraCommand());
  for (const c of program.commands) c.exitOverride();
  return program;
}

async function main(): Promise<void> {
  // `drover ... | head` closes the pipe early: stop quietly, as a Unix tool should.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  const program = buildProgram();
  try {
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

await main();
