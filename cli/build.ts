/**
 * `drover build TEMPLATE`, `drover build validate TEMPLATE`, `drover build inspect TEMPLATE`
 * (as `packer build/validate/inspect`). Packer's single-dash long flags (`-var k=v`,
 * `-only=x`) are accepted as well as `--var`. The playbook provisioner runs drover's own
 * playbook engine with the same wiring as `drover playbook` (inventory vars, roles path,
 * group_vars, vault, extra vars), against a one-host inventory whose connection execs
 * inside the build instance.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { HumanBuildReporter, JsonBuildReporter } from '../src/build/report.js';
import { type PlaybookRunner, runBuilds } from '../src/build/run.js';
import { type BuildTemplate, loadTemplate, type PlaybookStep } from '../src/build/template.js';
import { DroverError, type Problem, UsageError, ValidationError } from '../src/errors.js';
import { cleanupStale } from '../src/machine/cleanup.js';
import { HumanOutput } from '../src/output/human.js';
import { Redactor } from '../src/output/redact.js';
import { loadPlaybook, loadRole, loadTasksFile, loadVarsFile } from '../src/playbook/load.js';
import { runPlaybook } from '../src/runner/playbook.js';
import { Keyring, loadVaultSecrets } from '../src/vault/index.js';
import { type CommonOptions, OMIT, wire } from './common.js';
import { playbookLoadOptions } from './playbook.js';
import { interruptible } from './signals.js';

const LONG_FLAGS = [
  'var',
  'var-file',
  'only',
  'except',
  'on-error',
  'force',
  'parallel-builds',
  'debug',
  'build-dir',
  'output',
  'machine-readable',
  'color',
];

/** Packer's `-var-file=x` / `-only x` become `--var-file=x` / `--only x` for commander. */
export function normaliseArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const [i, a] of args.entries()) {
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    const m = /^-([a-z][a-z-]+)(=.*)?$/.exec(a);
    out.push(m && LONG_FLAGS.includes(m[1]!) ? `-${a}` : a);
  }
  return out;
}

/** A commander Command that accepts Packer's single-dash long flags. */
class PackerStyleCommand extends Command {
  override createCommand(name?: string): Command {
    return new PackerStyleCommand(name);
  }
  override parseOptions(args: string[]): { operands: string[]; unknown: string[] } {
    return super.parseOptions(normaliseArgs(args));
  }
}

interface BuildOptions {
  var?: string[];
  varFile?: string[];
  only?: string[];
  except?: string[];
  onError?: string;
  force?: boolean;
  parallelBuilds?: string;
  debug?: boolean;
  buildDir?: string;
  output?: string;
  color?: boolean;
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];
const collectList = (v: string, prev: string[] | undefined) => [
  ...(prev ?? []),
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

function addTemplateOptions(cmd: Command): Command {
  return cmd
    .option('--var <name=value>', 'set a template variable (repeatable; also -var)', collect)
    .option('--var-file <file>', 'YAML/JSON file of variable values (repeatable; also -var-file)', collect)
    .option(
      '--build-dir <dir>',
      'where caches, instances and outputs go (default: .drover-build beside the template)',
    );
}

function templateInput(opts: BuildOptions): Parameters<typeof loadTemplate>[1] {
  return {
    ...(opts.var ? { vars: opts.var } : {}),
    ...(opts.varFile ? { varFiles: opts.varFile } : {}),
    ...(opts.buildDir ? { buildDir: opts.buildDir } : {}),
    env: process.env,
  };
}

export function buildCommand(): Command {
  const cmd = new PackerStyleCommand('build')
    .description('build machine images from a template (like packer build): validate, inspect, build')
    .argument('<template>', 'build template (YAML)')
    .option(
      '--only <globs>',
      'only run these builds (build, source or build.source globs, comma separated)',
      collectList,
    )
    .option('--except <globs>', 'skip these builds (globs, comma separated)', collectList)
    .option(
      '--on-error <mode>',
      'cleanup (default): remove the instance; abort: keep it for debugging',
      'cleanup',
    )
    .option('--force', 'ignore the step and verify caches (rebuild everything but the base rootfs)')
    .option('--parallel-builds <n>', 'builds run at once (0: all)', '0')
    .option('--debug', 'pause before each provisioning step')
    .option('--output <format>', 'json: JSON lines events instead of the human output')
    .option('--color', 'force colours');
  addTemplateOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Packer's single-dash flags work too: drover build -var 'suite=bookworm' -only 'base.*' images/base.yml
Exit codes: 0 all builds finished; 1 a build failed; 4 the template is invalid (nothing was started);
2 bad usage; 99 interrupted (everything was cleaned up).`,
  );
  cmd.action(async (template: string, opts: BuildOptions) => {
    process.exitCode = await runBuildCommand(template, opts);
  });

  const validate = cmd
    .command('validate')
    .description('check a template (YAML, variables, sources, provisioners, files, playbooks) and exit')
    .argument('<template>', 'build template (YAML)');
  addTemplateOptions(validate);
  // `build validate -var x=1`: the parent command parses flags after the subcommand too.
  validate.action(async (template: string, _opts: BuildOptions, command: Command) => {
    const t = loadTemplate(template, templateInput(command.optsWithGlobals<BuildOptions>()));
    await validatePlaybooks(t);
    process.stdout.write('The configuration is valid.\n');
  });

  const inspect = cmd
    .command('inspect')
    .description('show the variables, sources, builds and steps of a template')
    .argument('<template>', 'build template (YAML)');
  addTemplateOptions(inspect);
  inspect.action(async (template: string, _opts: BuildOptions, command: Command) => {
    process.stdout.write(
      inspectText(loadTemplate(template, templateInput(command.optsWithGlobals<BuildOptions>()))),
    );
  });
  for (const c of cmd.commands) c.exitOverride();
  return cmd;
}

function playbookSteps(t: BuildTemplate): PlaybookStep[] {
  return t.builds.flatMap((b) => [
    ...b.provisioners.filter((p): p is PlaybookStep => p.type === 'playbook'),
    ...(b.verify?.playbook ? [b.verify.playbook] : []),
  ]);
}

/** Every playbook a template runs is loaded and validated like `drover playbook --syntax-check`. */
async function validatePlaybooks(t: BuildTemplate): Promise<void> {
  const problems: Problem[] = [];
  for (const s of playbookSteps(t)) {
    try {
      const keyring = new Keyring(await loadVaultSecrets({ vaultPasswordFile: s.vaultPasswordFiles }));
      loadPlaybook(s.playbookFile, {
        decryptVault: (c, where) => keyring.decryptText(c, where),
        decryptFile: (text, file) => keyring.decryptText(text, file),
        extraVars: s.extraVars,
        playbookDir: dirname(s.playbookFile),
      });
    } catch (e) {
      if (e instanceof ValidationError) problems.push(...e.problems);
      else if (e instanceof DroverError)
        problems.push({ message: `${s.label}: ${e.message}`, pos: s.pos, severity: 'error' });
      else throw e;
    }
  }
  if (problems.some((p) => p.severity !== 'warning')) throw new ValidationError(problems);
}

function inspectText(t: BuildTemplate): string {
  const lines: string[] = ['Packer-style template', '', `build dir: ${t.buildDir}`, '', 'variables:', ''];
  for (const v of t.variables)
    lines.push(
      `  ${v.name} (${v.type}) = ${v.sensitive ? '<sensitive>' : JSON.stringify(v.value)}  [${v.origin}]${v.description ? `  ${v.description}` : ''}`,
    );
  if (t.variables.length === 0) lines.push('  <No variables>');
  lines.push('', 'locals:', '');
  for (const [k, v] of Object.entries(t.locals)) lines.push(`  ${k} = ${JSON.stringify(v)}`);
  if (Object.keys(t.locals).length === 0) lines.push('  <No locals>');
  lines.push('', 'builds:', '');
  for (const b of t.builds) {
    lines.push(`  > ${b.name}:`, '');
    lines.push(`    sources:`);
    for (const s of b.sources) lines.push(`      ${s.spec.type}.${s.name} (communicator ${s.communicator})`);
    lines.push(`    provisioners:`);
    for (const p of b.provisioners)
      lines.push(
        `      ${p.type}: ${p.label}${p.only.length ? ` only=${p.only.join(',')}` : ''}${p.except.length ? ` except=${p.except.join(',')}` : ''}`,
      );
    if (b.verify)
      lines.push(
        `    verify: ${[...(b.verify.playbook ? [b.verify.playbook.label] : []), ...b.verify.shell.map((s) => `shell: ${s}`)].join('; ')}`,
      );
    lines.push(`    post-processors:`);
    for (const pp of b.postProcessors) lines.push(`      ${pp.type}${pp.output ? ` -> ${pp.output}` : ''}`);
    lines.push(`    image: tag ${b.image.tag}`, '');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Waits for Enter (breakpoints, -debug). One reader for the whole run: lines typed (or piped)
 * ahead are kept for the next pause; after EOF every pause continues at once.
 */
class EnterKey {
  private rl: Interface | undefined;
  private ahead = 0;
  private ended = false;
  private readonly waiting: (() => void)[] = [];

  wait = (prompt: string): Promise<void> => {
    process.stdout.write(`${prompt}\n`);
    if (!this.rl) {
      this.rl = createInterface({ input: process.stdin });
      this.rl.on('line', () => {
        const w = this.waiting.shift();
        if (w) w();
        else this.ahead++;
      });
      this.rl.on('close', () => {
        this.ended = true;
        for (const w of this.waiting.splice(0)) w();
      });
    }
    if (this.ahead > 0) {
      this.ahead--;
      return Promise.resolve();
    }
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  };

  close(): void {
    this.rl?.close();
  }
}

/** `extra_arguments` of a playbook provisioner: the `drover playbook` flags that make sense here. */
function playbookArgs(args: string[]): Partial<CommonOptions> & { tags?: string[]; skipTags?: string[] } {
  const o: Partial<CommonOptions> & { tags?: string[]; skipTags?: string[] } = { verbose: 0 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = () => inline ?? args[++i] ?? '';
    if (flag === '-e' || flag === '--extra-vars') o.extraVars = [...(o.extraVars ?? []), value()];
    else if (flag === '-t' || flag === '--tags') o.tags = [...(o.tags ?? []), ...value().split(',')];
    else if (flag === '--skip-tags') o.skipTags = [...(o.skipTags ?? []), ...value().split(',')];
    else if (flag === '--vault-password-file' || flag === '--vault-pass-file')
      o.vaultPasswordFile = [...(o.vaultPasswordFile ?? []), value()];
    else if (flag === '--vault-id') o.vaultId = [...(o.vaultId ?? []), value()];
    else if (flag === '-D' || flag === '--diff') o.diff = true;
    else if (/^-v+$/.test(flag)) o.verbose = (o.verbose ?? 0) + flag.length - 1;
    else if (flag === '-f' || flag === '--forks') value();
    else
      throw new UsageError(
        `extra_arguments: '${a}' is not supported by the playbook provisioner`,
        'use -e, --tags, --skip-tags, --vault-password-file, --vault-id, --diff or -v',
      );
  }
  return o;
}

/** Runs drover's playbook engine against the build instance (the same path as `drover playbook`). */
export const runInstancePlaybook: PlaybookRunner = async (req) => {
  const s = req.step;
  const extra = playbookArgs(s.extraArguments);
  const groups: Record<string, unknown> = {};
  for (const g of s.groups) groups[g] = { hosts: { [req.host]: null } };
  const invFile = join(req.workDir, 'inventory.yml');
  await writeFile(
    invFile,
    stringify({ all: { hosts: { [req.host]: req.instance.inventoryVars }, children: groups } }),
  );
  const playbookDir = dirname(s.playbookFile);
  const opts: CommonOptions = {
    verbose: extra.verbose ?? 0,
    inventory: [invFile],
    extraVars: [JSON.stringify(s.extraVars), ...(extra.extraVars ?? [])],
    vaultPasswordFile: [...s.vaultPasswordFiles, ...(extra.vaultPasswordFile ?? [])],
    ...(extra.vaultId ? { vaultId: extra.vaultId } : {}),
    check: req.check,
    diff: Boolean(extra.diff),
  };
  const w = await wire(opts, { playbookDir });
  w.runnerOptions.tags = extra.tags ?? [];
  w.runnerOptions.skipTags = extra.skipTags ?? [];
  const nsexec = req.instance.nsexec;
  const connector = {
    connect: (spec: Parameters<typeof w.connector.connect>[0]) =>
      spec.connection === 'nsexec' && spec.host === req.host
        ? Promise.resolve(nsexec)
        : w.connector.connect(spec),
    drop: (host: string) => (host === req.host ? Promise.resolve() : w.connector.drop(host)),
    closeAll: () => w.connector.closeAll(),
  };
  const loadOpts = playbookLoadOptions(w, playbookDir);
  const pb = loadPlaybook(s.playbookFile, loadOpts);
  const human = new HumanOutput({
    write: (t) => req.write(w.redactor.redact(t)),
    color: false,
    verbosity: opts.verbose,
    showSkipped: w.config.displaySkippedHosts ?? true,
    showOk: w.config.displayOkHosts ?? true,
  });
  try {
    const outcome = await runPlaybook(pb, {
      options: w.runnerOptions,
      inventory: w.inventory,
      templar: w.templar,
      connector,
      specs: w.specs,
      loader: {
        loadTasksFile: async (file, origin) => loadTasksFile(file, loadOpts, origin),
        loadRole: async (name, fromDir, params) => loadRole(name, loadOpts, fromDir, params),
        loadVarsFile: async (file) => loadVarsFile(file, loadOpts),
      },
      redactor: w.runRedactor,
      emit: (e) => human.emit(e),
      omit: OMIT,
      signal: req.signal,
    });
    await human.close();
    const changed = Object.values(outcome.stats).reduce((n, st) => n + st.changed, 0);
    return { exitCode: outcome.exitCode, changed };
  } finally {
    await w.connector.closeAll();
  }
};

async function runBuildCommand(templateFile: string, opts: BuildOptions): Promise<number> {
  const onError = opts.onError ?? 'cleanup';
  if (!['cleanup', 'abort', 'ask', 'run-cleanup-provisioner'].includes(onError))
    throw new UsageError(`-on-error must be cleanup or abort, got '${onError}'`);
  const parallel = Number(opts.parallelBuilds ?? 0);
  if (!Number.isInteger(parallel) || parallel < 0)
    throw new UsageError(`-parallel-builds must be a whole number, got '${opts.parallelBuilds}'`);
  if (opts.output && opts.output !== 'json')
    throw new UsageError(`unknown output format '${opts.output}'`, 'use json');

  const template = loadTemplate(templateFile, templateInput(opts));
  await validatePlaybooks(template);
  const redactor = new Redactor();
  for (const s of template.secrets) redactor.add(s);
  const reporter =
    opts.output === 'json'
      ? new JsonBuildReporter(process.stdout, redactor)
      : new HumanBuildReporter(
          process.stdout,
          redactor,
          Boolean(opts.color) || (Boolean(process.stdout.isTTY) && !process.env.NO_COLOR),
        );
  const instances = join(template.buildDir, 'instances');
  const enter = new EnterKey();
  const { signal, dispose } = interruptible(async () => {
    await cleanupStale(instances).catch(() => undefined);
  });
  try {
    const r = await runBuilds({
      template,
      only: opts.only ?? [],
      except: opts.except ?? [],
      onError: onError === 'cleanup' ? 'cleanup' : 'abort',
      force: Boolean(opts.force),
      parallel,
      debug: Boolean(opts.debug),
      reporter,
      playbook: runInstancePlaybook,
      signal,
      ask: enter.wait,
    });
    return r.exitCode;
  } finally {
    dispose();
    enter.close();
    reporter.close();
  }
}
