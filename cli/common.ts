/**
 * Options shared by `drover exec` and `drover playbook` (Ansible's flag names), and the
 * wiring from parsed options to the engine's parts: vault keyring, inventory, template
 * engine, connection pool, redactor, output sinks.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { MissingFileError, UsageError } from '../src/errors.js';
import type { EventSink, RunEvent } from '../src/events/types.js';
import { loadInventory } from '../src/inventory/index.js';
import { Redactor } from '../src/output/redact.js';
import { parseKv } from '../src/playbook/split-args.js';
import type { RunnerOptions } from '../src/runner/options.js';
import { DEFAULT_FORKS } from '../src/runner/options.js';
import type { Redactor as RunRedactor } from '../src/runner/play.js';
import type { Connector, SpecResolver, TemplateEngine, VarLookup } from '../src/runner/ports.js';
import { ReloadableInventory } from '../src/runner/reloadable-inventory.js';
import { OMIT, Templar } from '../src/template/templar.js';
import { ConnectionPool } from '../src/transport/pool.js';
import { type CliConnectionOptions, connectionSpecFromVars } from '../src/transport/spec.js';
import type { SshOptions } from '../src/transport/ssh.js';
import type { ConnectionSpec } from '../src/transport/types.js';
import { isVaultText, Keyring, loadVaultSecrets } from '../src/vault/index.js';
import { loadYaml } from '../src/yaml/load.js';
import { readAnsibleConfig } from './ansible-config.js';
import { promptHidden } from './prompt.js';

export interface CommonOptions {
  inventory?: string[];
  limit?: string[];
  extraVars?: string[];
  forks?: string;
  verbose: number;
  check?: boolean;
  diff?: boolean;
  user?: string;
  privateKey?: string;
  connection?: string;
  timeout?: string;
  askPass?: boolean;
  become?: boolean;
  becomeUser?: string;
  becomeMethod?: string;
  askBecomePass?: boolean;
  vaultPasswordFile?: string[];
  vaultId?: string[];
  askVaultPass?: boolean;
  output?: string[];
  detailedExitcode?: boolean;
  sshSession?: string;
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option(
      '-i, --inventory <source>',
      'inventory source: a file, a directory, a script or a comma list (repeatable)',
      collect,
    )
    .option('-l, --limit <pattern>', 'further limit selected hosts to a pattern (or @retryfile)', collect)
    .option(
      '-e, --extra-vars <vars>',
      'extra variables: key=value, JSON/YAML, or @file (repeatable)',
      collect,
    )
    .option('-f, --forks <n>', `hosts worked on at once (default ${DEFAULT_FORKS})`)
    .option(
      '-v, --verbose',
      'more output (-vvv for debugging, -vvvv for connection details)',
      (_v, prev: number) => prev + 1,
      0,
    )
    .option('-C, --check', 'dry run: report what would change without changing anything')
    .option('-D, --diff', 'show the differences in files and templates')
    .option('-u, --user <user>', 'connect as this user')
    .option('--key-file, --private-key <file>', 'use this private key file')
    .option('-c, --connection <type>', 'connection type (ssh, local)')
    .option('-T, --timeout <seconds>', 'connection timeout in seconds')
    .option('-k, --ask-pass', 'ask for the connection password')
    .option('-b, --become', 'run operations with become')
    .option('--become-user <user>', 'become this user (default root)')
    .option('--become-method <method>', 'privilege escalation method (sudo, su)')
    .option('-K, --ask-become-pass', 'ask for the privilege escalation password')
    .option('--vault-pass-file, --vault-password-file <file>', 'vault password file (repeatable)', collect)
    .option('--vault-id <id>', 'vault identity label@source (repeatable)', collect)
    .addOption(new Option('-J, --ask-vault-pass', 'ask for the vault password').conflicts([]))
    .option(
      '--report, --output <format[:path]>',
      'also write results as json (JSON lines), summary, junit, html or github (repeatable)',
      collect,
    )
    .addOption(
      new Option(
        '--ssh-session <mode>',
        `run tasks through one remote shell per host (1 round trip per task) or an exec channel each (2): on, off, auto (default ${DEFAULT_SSH_SESSION}, or $DROVER_SSH_SESSION)`,
      ).choices(['on', 'off', 'auto']),
    );
}

/** ADR 091: the session shell is the default; runs it cannot carry still use exec channels. */
export const DEFAULT_SSH_SESSION = 'on';

/** --ssh-session / $DROVER_SSH_SESSION to the transport's session option. */
export function sshSessionMode(flag: string | undefined): boolean | 'auto' {
  const raw = flag ?? process.env.DROVER_SSH_SESSION ?? DEFAULT_SSH_SESSION;
  switch (raw) {
    case 'on':
      return true;
    case 'off':
      return false;
    case 'auto':
      return 'auto';
    default:
      throw new UsageError(`DROVER_SSH_SESSION must be on, off or auto, got: ${raw}`);
  }
}

/** -e values: key=value pairs, inline JSON/YAML, or @file; later ones win. */
export function parseExtraVars(
  values: string[] | undefined,
  keyring: Keyring | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const v of values ?? []) {
    const s = v.trim();
    if (s.startsWith('@')) {
      const file = s.slice(1);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        throw new MissingFileError(
          `the extra vars file ${file} could not be read`,
          'check the path after -e @',
        );
      }
      if (isVaultText(text)) {
        if (!keyring)
          throw new UsageError(`${file} is vault-encrypted: pass --vault-password-file or --ask-vault-pass`);
        text = keyring.decryptText(text, file);
      }
      Object.assign(out, loadMapping(text, file, keyring));
    } else if (s.startsWith('{') || s.startsWith('---')) {
      Object.assign(out, loadMapping(s, '<extra vars>', keyring));
    } else if (s !== '') {
      Object.assign(out, parseKv(s));
    }
  }
  return out;
}

function loadMapping(text: string, file: string, keyring: Keyring | undefined): Record<string, unknown> {
  const y = loadYaml(text, file, keyring ? { decryptVault: (c, w) => keyring.decryptText(c, w) } : {});
  if (y.problems.length)
    throw new UsageError(
      `${y.problems[0]!.pos?.file}:${y.problems[0]!.pos?.line}: ${y.problems[0]!.message}`,
    );
  const doc = y.docs[0];
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new UsageError(`extra vars in ${file} must be a mapping`);
  return doc as Record<string, unknown>;
}

/** Every variable connectionSpecFromVars reads (src/transport/spec.ts). */
const CONNECTION_VARS = [
  'ansible_host',
  'ansible_ssh_host',
  'ansible_port',
  'ansible_ssh_port',
  'ansible_user',
  'ansible_ssh_user',
  'ansible_connection',
  'ansible_password',
  'ansible_ssh_pass',
  'ansible_ssh_password',
  'ansible_private_key_file',
  'ansible_ssh_private_key_file',
  'ansible_ssh_common_args',
  'ansible_ssh_extra_args',
  'ansible_ssh_args',
  'ansible_ssh_retries',
  'ansible_timeout',
  'ansible_ssh_timeout',
  'ansible_host_key_checking',
  'ansible_ssh_host_key_checking',
  'ansible_become',
  'ansible_become_method',
  'ansible_become_user',
  'ansible_become_pass',
  'ansible_become_password',
  'ansible_become_flags',
  'ansible_become_exe',
] as const;

export interface Wiring {
  keyring: Keyring;
  redactor: Redactor;
  runRedactor: RunRedactor;
  inventory: ReloadableInventory;
  templar: Templar;
  pool: ConnectionPool;
  connector: Connector;
  specs: SpecResolver;
  runnerOptions: RunnerOptions;
  config: ReturnType<typeof readAnsibleConfig>;
}

export async function wire(opts: CommonOptions, extra: { playbookDir?: string } = {}): Promise<Wiring> {
  const config = readAnsibleConfig(process.cwd());
  const redactor = new Redactor();
  const secrets = await loadVaultSecrets({
    ...(opts.vaultPasswordFile
      ? { vaultPasswordFile: opts.vaultPasswordFile }
      : config.vaultPasswordFile
        ? { vaultPasswordFile: [config.vaultPasswordFile] }
        : {}),
    ...(opts.vaultId ? { vaultId: opts.vaultId } : {}),
    ...(opts.askVaultPass ? { askVaultPass: true } : {}),
  });
  const keyring = new Keyring(secrets);
  for (const s of secrets) redactor.add(s.password.toString('utf8'));
  keyring.onSecret((s) => redactor.add(s));
  const decryptVault = (c: string, where: string) => keyring.decryptText(c, where);

  const sources = opts.inventory?.length ? opts.inventory : (config.inventory ?? ['/etc/ansible/hosts']);
  const warn = (m: string) => process.stderr.write(`[WARNING]: ${m}\n`);
  const readInventory = () =>
    loadInventory({
      sources,
      cwd: process.cwd(),
      ...(extra.playbookDir ? { playbookDir: extra.playbookDir } : {}),
      decryptVault,
      warn,
    });
  const inventory = new ReloadableInventory(await readInventory(), readInventory);

  const extraVars = parseExtraVars(opts.extraVars, keyring);
  const templar = new Templar({ cwd: extra.playbookDir ?? process.cwd(), warn });

  let password: string | undefined;
  if (opts.askPass) password = await promptHidden('SSH password: ');
  let becomePassword: string | undefined;
  if (opts.askBecomePass) becomePassword = await promptHidden('BECOME password: ');
  for (const s of [password, becomePassword]) if (s) redactor.add(s);

  const cli: CliConnectionOptions = {};
  const user = opts.user ?? config.remoteUser;
  if (user) cli.user = user;
  const key = opts.privateKey ?? config.privateKeyFile;
  if (key) cli.privateKey = key;
  if (opts.timeout ?? config.timeout) cli.timeout = Number(opts.timeout ?? config.timeout);
  if (password) cli.password = password;
  if (opts.connection) cli.connection = opts.connection;
  if (opts.become ?? config.become) cli.become = true;
  const becomeUser = opts.becomeUser ?? config.becomeUser;
  if (becomeUser) cli.becomeUser = becomeUser;
  const becomeMethod = opts.becomeMethod ?? config.becomeMethod;
  if (becomeMethod) cli.becomeMethod = becomeMethod;
  if (becomePassword) cli.becomePassword = becomePassword;
  if (config.hostKeyChecking !== undefined) cli.hostKeyChecking = config.hostKeyChecking;

  const sshOptions: SshOptions = { session: sshSessionMode(opts.sshSession) };
  if (process.env.DROVER_SSH_DEBUG) {
    // The protocol trace with milliseconds since start: where a slow connection spends them.
    const t0 = performance.now();
    sshOptions.sshDebug = (line) =>
      process.stderr.write(`[ssh ${(performance.now() - t0).toFixed(1)} ms] ${line}\n`);
  }
  const pool = new ConnectionPool({ sshOptions });
  const connector: Connector = {
    connect: (spec: ConnectionSpec) => pool.get(spec),
    drop: (host: string) => pool.close(host),
    closeAll: () => pool.closeAll(),
  };
  // Building a spec reads ~/.ssh/config and the local user: do it once per host and set of
  // connection variables, not once per task (the bench measured it as a per-task hotspot).
  const specCache = new Map<string, ConnectionSpec>();
  const specs: SpecResolver = {
    specFor(host: string, vars: VarLookup): ConnectionSpec {
      const values = CONNECTION_VARS.map((k) => vars(k));
      const cacheKey = `${host}\0${JSON.stringify(values)}`;
      let spec = specCache.get(cacheKey);
      if (!spec) {
        const view: Record<string, unknown> = {};
        CONNECTION_VARS.forEach((k, i) => {
          if (values[i] !== undefined) view[k] = values[i];
        });
        spec = connectionSpecFromVars(host, view, cli);
        specCache.set(cacheKey, spec);
      }
      return { ...spec };
    },
  };

  const forks = Number(opts.forks ?? config.forks ?? DEFAULT_FORKS);
  if (!Number.isInteger(forks) || forks < 1)
    throw new UsageError(`--forks must be a positive number, got ${opts.forks}`);
  const runnerOptions: RunnerOptions = {
    check: Boolean(opts.check),
    diff: Boolean(opts.diff),
    forks,
    verbosity: opts.verbose ?? 0,
    extraVars,
    tags: [],
    skipTags: [],
    limit: opts.limit,
    forceHandlers: false,
  };
  if (becomePassword) runnerOptions.becomePassword = becomePassword;
  if (opts.become ?? config.become) runnerOptions.become = true;
  if (becomeUser) runnerOptions.becomeUser = becomeUser;
  if (becomeMethod) runnerOptions.becomeMethod = becomeMethod;

  const runRedactor: RunRedactor = {
    add: (s) => redactor.add(s),
    redactValue: <T>(v: T) => redactor.redactValue(v) as T,
  };
  return {
    keyring,
    redactor,
    runRedactor,
    inventory,
    templar,
    pool,
    connector,
    specs,
    runnerOptions,
    config,
  };
}

export function templateEngine(t: Templar): TemplateEngine {
  return t;
}

export { OMIT };

/** Fans events out to several sinks. */
export function fanOut(sinks: EventSink[]): EventSink {
  return {
    emit: (e: RunEvent) => {
      for (const s of sinks) s.emit(e);
    },
    close: async () => {
      await Promise.all(sinks.map((s) => s.close()));
    },
  };
}

export function resolvePath(p: string): string {
  return resolve(process.cwd(), p);
}
