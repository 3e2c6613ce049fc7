/**
 * `drover lint PLAYBOOK...`: the loader's validation plus rules that need the whole picture
 * (undefined variables, deprecated forms), reported with file:line:col as text, GitHub
 * annotations or JSON. Exit 0 when clean or only warnings (unless --strict), 2 on errors (as
 * ansible-lint), usage errors as every command.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { ExitCode } from '../src/errors.js';
import { type LintOptions, lintPlaybooks } from '../src/lint/lint.js';
import { counts, formatLint, LINT_FORMATS, type LintFormat } from '../src/lint/report.js';
import { readAnsibleConfig } from './ansible-config.js';
import { type CommonOptions, wire } from './common.js';
import { registerRedactor } from './outputs.js';
import { playbookLoadOptions } from './playbook.js';

const DEFAULT_INVENTORY = '/etc/ansible/hosts';

interface LintCommandOptions {
  inventory?: string[];
  extraVars?: string[];
  vaultPasswordFile?: string[];
  vaultId?: string[];
  askVaultPass?: boolean;
  format: LintFormat;
  strict?: boolean;
}

/** Exit code when lint found errors (or warnings under --strict): ansible-lint's. */
export const LINT_FAILED = 2;

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

export interface LintCommandDeps {
  /** Where the report goes (stdout by default). */
  write?: (text: string) => void;
}

export function lintCommand(deps: LintCommandDeps = {}): Command {
  const cmd = new Command('lint')
    .description('check playbooks for problems without running them (CI annotations with --format github)')
    .argument('<playbook...>', 'playbook files')
    .option('-i, --inventory <source>', 'inventory whose variables count as defined (repeatable)', collect)
    .option(
      '-e, --extra-vars <vars>',
      'extra variables: key=value, JSON/YAML, or @file (repeatable)',
      collect,
    )
    .option('--vault-pass-file, --vault-password-file <file>', 'vault password file (repeatable)', collect)
    .option('--vault-id <id>', 'vault identity label@source (repeatable)', collect)
    .option('-J, --ask-vault-pass', 'ask for the vault password')
    .addOption(
      new Option('-f, --format <format>', 'output format').choices([...LINT_FORMATS]).default('human'),
    )
    .option('--strict', 'exit non-zero on warnings too');
  cmd.addHelpText(
    'after',
    `
Rules: syntax-check[...] (the loader's validation: unknown modules and keywords with a
did-you-mean, arguments, files), undefined-variable (only variables no source defines),
no-jinja-when, bare-var-string-condition, deprecated-bare-vars, deprecated-module (include:),
load-warning.
Exit codes: 0 no errors (warnings allowed unless --strict); 2 errors found; 2 bad usage.`,
  );
  cmd.action(async (files: string[], opts: LintCommandOptions) => {
    process.exitCode = await runLint(files, opts, deps.write ?? ((t) => process.stdout.write(t)));
  });
  return cmd;
}

async function runLint(
  files: string[],
  opts: LintCommandOptions,
  write: (t: string) => void,
): Promise<number> {
  const playbookDir = dirname(resolve(files[0]!));
  const common: CommonOptions = { verbose: 0 };
  if (opts.inventory) common.inventory = opts.inventory;
  // Without any inventory Ansible runs against the implicit localhost only: so does lint
  // (rather than failing on a missing /etc/ansible/hosts).
  const implicit =
    !opts.inventory && !readAnsibleConfig(process.cwd()).inventory && !existsSync(DEFAULT_INVENTORY);
  if (implicit) common.inventory = ['localhost,'];
  if (opts.extraVars) common.extraVars = opts.extraVars;
  if (opts.vaultPasswordFile) common.vaultPasswordFile = opts.vaultPasswordFile;
  if (opts.vaultId) common.vaultId = opts.vaultId;
  if (opts.askVaultPass) common.askVaultPass = true;
  const w = await wire(common, { playbookDir });
  registerRedactor(w.redactor);
  const load = playbookLoadOptions(w, playbookDir);

  const inventoryVars = new Set<string>();
  const inventoryValues = new Map<string, unknown[]>();
  const note = (vars: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(vars)) {
      inventoryVars.add(k);
      const list = inventoryValues.get(k) ?? [];
      list.push(v);
      inventoryValues.set(k, list);
    }
  };
  for (const h of w.inventory.hostNames()) note(w.inventory.hostVars(h));
  for (const g of Object.keys(w.inventory.groups())) note(w.inventory.inventory.groupVars(g));
  const lintOpts: LintOptions = {
    load,
    inventoryVars,
    inventoryValues,
    inventoryLabel: implicit ? 'none given' : `-i ${w.inventory.inventory.sources.join(' -i ')}`,
    extraVars: w.runnerOptions.extraVars,
  };
  const problems = lintPlaybooks(files, lintOpts);
  // Vault values can appear in messages (a hint quoting a value): masked like every output.
  write(w.redactor.redact(formatLint(problems, opts.format, process.cwd())));
  const { errors, warnings } = counts(problems);
  if (errors > 0 || (opts.strict && warnings > 0)) return LINT_FAILED;
  return ExitCode.ok;
}
