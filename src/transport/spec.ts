/**
 * ConnectionSpec from Ansible's connection variables, CLI flags, the environment and
 * ~/.ssh/config, with Ansible's precedence: host variables beat CLI flags, which beat
 * `-o` options in ansible_ssh_*_args, which beat ~/.ssh/config, which beats defaults.
 */

import { userInfo } from 'node:os';
import { UsageError } from '../errors.js';
import { expandSshTokens, resolveSshConfig, type SshHostConfig } from './ssh-config.js';
import type { Become, BecomeMethod, ConnectionSpec, HostKeyChecking } from './types.js';

export interface CliConnectionOptions {
  /** -u / --user */
  user?: string;
  /** --private-key / --key-file */
  privateKey?: string;
  /** ansible.cfg [ssh_connection] retries */
  retries?: number;
  /** -T / --timeout, seconds */
  timeout?: number;
  /** -k / --ask-pass answer */
  password?: string;
  /** -c / --connection */
  connection?: string;
  /** -b, --become-method, --become-user, -K answer */
  become?: boolean;
  becomeMethod?: string;
  becomeUser?: string;
  becomePassword?: string;
  /** ansible.cfg [ssh_connection] ssh_args (ANSIBLE_SSH_ARGS is read from env). */
  sshArgs?: string;
  /** ansible.cfg ssh_common_args / ssh_extra_args, used when the host has no such variable. */
  sshCommonArgs?: string;
  sshExtraArgs?: string;
  /** ansible.cfg host_key_checking */
  hostKeyChecking?: boolean | HostKeyChecking;
  /** Environment for ANSIBLE_HOST_KEY_CHECKING (default process.env). */
  env?: Record<string, string | undefined>;
  /** ssh config files to read; default ~/.ssh/config; [] reads none. */
  sshConfigFiles?: string[];
  home?: string;
  localUser?: string;
  /** Max exec channels per connection. */
  maxChannels?: number;
}

const TRUE = new Set(['yes', 'on', '1', 'true', 'y', 't']);
const FALSE = new Set(['no', 'off', '0', 'false', 'n', 'f']);

/** Ansible's boolean conversion; undefined when the value is not a boolean. */
export function ansibleBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
  }
  return undefined;
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function firstVar(
  vars: Record<string, unknown>,
  names: string[],
): { name: string; value: string } | undefined {
  for (const n of names) {
    const v = str(vars[n]);
    if (v !== undefined) return { name: n, value: v };
  }
  return undefined;
}

/** POSIX-shell-like word splitting (quotes and backslashes), as Python's shlex.split. */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      const stop = end < 0 ? s.length : end;
      cur += s.slice(i + 1, stop);
      has = true;
      i = stop + 1;
    } else if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length && '"\\$`'.includes(s[i + 1]!)) i++;
        cur += s[i];
        i++;
      }
      has = true;
      i++;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[i + 1];
      has = true;
      i += 2;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
      i++;
    } else {
      cur += c;
      has = true;
      i++;
    }
  }
  if (has) out.push(cur);
  return out;
}

export interface SshArgs {
  proxyJump?: string[];
  strictHostKeyChecking?: HostKeyChecking;
  userKnownHostsFiles?: string[];
  port?: number;
  user?: string;
  identityFiles: string[];
  connectTimeoutMs?: number;
  hashKnownHosts?: boolean;
  configFile?: string;
  /** Options drover does not act on, for a warning. */
  ignored: string[];
}

/** `ProxyCommand ssh -W %h:%p [opts] [user@]bastion` is the old spelling of ProxyJump. */
function proxyCommandAsJump(cmd: string): string | undefined {
  const w = shellWords(cmd);
  if (w[0] !== 'ssh' && !w[0]?.endsWith('/ssh')) return undefined;
  if (!w.includes('-W')) return undefined;
  let host: string | undefined;
  let port: string | undefined;
  let user: string | undefined;
  for (let i = 1; i < w.length; i++) {
    const a = w[i]!;
    if (a === '-W' || a === '-o' || a === '-i' || a === '-F') i++;
    else if (a === '-p') port = w[++i];
    else if (a === '-l') user = w[++i];
    else if (a.startsWith('-')) continue;
    else host = a;
  }
  if (!host) return undefined;
  if (user && !host.includes('@')) host = `${user}@${host}`;
  return port ? `${host}:${port}` : host;
}

function mapStrictValue(v: string): HostKeyChecking | undefined {
  const s = v.toLowerCase();
  if (s === 'accept-new') return 'accept-new';
  if (s === 'yes' || s === 'ask') return 'strict';
  if (s === 'no' || s === 'off') return 'off';
  return undefined;
}

/** The ssh options drover honours in ansible_ssh_common_args / ansible_ssh_extra_args. */
export function parseSshArgs(text: string): SshArgs {
  const w = shellWords(text);
  const r: SshArgs = { identityFiles: [], ignored: [] };
  const option = (kv: string): void => {
    const m = /^([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/.exec(kv.trim());
    if (!m) {
      r.ignored.push(`-o ${kv}`);
      return;
    }
    const key = m[1]!.toLowerCase();
    const val = m[2]!.trim();
    switch (key) {
      case 'proxyjump':
        r.proxyJump ??= val.toLowerCase() === 'none' ? [] : val.split(',').filter(Boolean);
        break;
      case 'proxycommand': {
        const jump = proxyCommandAsJump(val);
        if (jump) r.proxyJump ??= [jump];
        else r.ignored.push(`-o ${kv}`);
        break;
      }
      case 'stricthostkeychecking':
        r.strictHostKeyChecking ??= mapStrictValue(val);
        break;
      case 'userknownhostsfile':
        r.userKnownHostsFiles ??= shellWords(val).filter((f) => f.toLowerCase() !== 'none');
        break;
      case 'port':
        r.port ??= Number(val);
        break;
      case 'user':
        r.user ??= val;
        break;
      case 'identityfile':
        r.identityFiles.push(val);
        break;
      case 'connecttimeout':
        r.connectTimeoutMs ??= Number(val) * 1000;
        break;
      case 'hashknownhosts':
        if (/^(yes|no)$/i.test(val)) r.hashKnownHosts ??= val.toLowerCase() === 'yes';
        break;
      default:
        r.ignored.push(`-o ${kv}`);
    }
  };
  for (let i = 0; i < w.length; i++) {
    const a = w[i]!;
    const short = /^-([JopilF])(.*)$/.exec(a);
    if (!short) {
      if (a.startsWith('-')) r.ignored.push(a);
      continue;
    }
    const flag = short[1]!;
    const val = short[2] !== '' ? short[2]! : w[++i];
    if (val === undefined) break;
    switch (flag) {
      case 'J':
        r.proxyJump ??= val.toLowerCase() === 'none' ? [] : val.split(',').filter(Boolean);
        break;
      case 'o':
        option(val);
        break;
      case 'p':
        r.port ??= Number(val);
        break;
      case 'i':
        r.identityFiles.push(val);
        break;
      case 'l':
        r.user ??= val;
        break;
      case 'F':
        r.configFile ??= val;
        break;
    }
  }
  return r;
}

function parseHostKeyChecking(v: unknown): HostKeyChecking | undefined {
  if (typeof v === 'string' && v.trim().toLowerCase() === 'accept-new') return 'accept-new';
  const b = ansibleBool(v);
  if (b === undefined) return undefined;
  return b ? 'strict' : 'off';
}

function parsePort(v: string, where: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) {
    throw new UsageError(
      `${where}: port ${JSON.stringify(v)} is not a number between 1 and 65535`,
      'fix ansible_port',
    );
  }
  return n;
}

function parseSeconds(v: string, where: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${where}: timeout ${JSON.stringify(v)} is not a positive number of seconds`);
  }
  return n * 1000;
}

const BECOME_METHODS: readonly BecomeMethod[] = ['sudo', 'su'];

/**
 * Everything needed to reach `inventoryHostname`. `vars` are the host's templated
 * variables (ansible_host, ansible_user, ...).
 */
export function connectionSpecFromVars(
  inventoryHostname: string,
  vars: Record<string, unknown>,
  cli: CliConnectionOptions = {},
): ConnectionSpec {
  const env = cli.env ?? process.env;
  const origin: Record<string, string> = {};
  const where = `host ${inventoryHostname}`;

  const args = parseSshArgs(sshArgsText(vars, cli, env));

  let connection = str(vars.ansible_connection) ?? cli.connection ?? 'ssh';
  if (connection === 'smart' || connection === 'paramiko' || connection === 'ansible.builtin.ssh')
    connection = 'ssh';
  if (connection === 'ansible.builtin.local') connection = 'local';

  const addressVar = firstVar(vars, ['ansible_host', 'ansible_ssh_host']);
  const requested = addressVar?.value ?? inventoryHostname;
  origin.address = addressVar ? addressVar.name : 'inventory_hostname';

  const configFiles = args.configFile ? [args.configFile] : cli.sshConfigFiles;
  const cfg: SshHostConfig =
    connection === 'ssh'
      ? resolveSshConfig(requested, {
          ...(configFiles ? { files: configFiles } : {}),
          ...(cli.home ? { home: cli.home } : {}),
        })
      : { identityFiles: [], notes: [] };

  const address = cfg.hostName ?? requested;
  if (cfg.hostName) origin.address = 'ssh config HostName';

  const portVar = firstVar(vars, ['ansible_port', 'ansible_ssh_port']);
  let port = 22;
  if (portVar) {
    port = parsePort(portVar.value, `${where}: ${portVar.name}`);
    origin.port = portVar.name;
  } else if (args.port !== undefined && Number.isInteger(args.port)) {
    port = args.port;
    origin.port = 'ansible_ssh_*_args';
  } else if (cfg.port !== undefined) {
    port = cfg.port;
    origin.port = 'ssh config';
  }

  const localUser = cli.localUser ?? safeLocalUser();
  const userVar = firstVar(vars, ['ansible_user', 'ansible_ssh_user', 'remote_user']);
  let user: string;
  if (userVar) {
    user = userVar.value;
    origin.user = userVar.name;
  } else if (cli.user) {
    user = cli.user;
    origin.user = '-u';
  } else if (args.user) {
    user = args.user;
    origin.user = 'ansible_ssh_*_args';
  } else if (cfg.user) {
    user = cfg.user;
    origin.user = 'ssh config';
  } else {
    user = localUser;
    origin.user = 'local user';
  }

  const passwordVar = firstVar(vars, ['ansible_password', 'ansible_ssh_pass', 'ansible_ssh_password']);
  const password = passwordVar?.value ?? cli.password;

  const tokens = {
    host: address,
    port,
    remoteUser: user,
    originalHost: requested,
    localUser,
    ...(cli.home ? { home: cli.home } : {}),
  };
  const keyVar = firstVar(vars, ['ansible_ssh_private_key_file', 'ansible_private_key_file']);
  const keys: string[] = [];
  if (keyVar) keys.push(keyVar.value);
  else if (cli.privateKey) keys.push(cli.privateKey);
  keys.push(...args.identityFiles, ...cfg.identityFiles);
  const privateKeyFiles = [...new Set(keys.map((k) => expandSshTokens(k, tokens)))];

  const timeoutVar = firstVar(vars, ['ansible_timeout', 'ansible_ssh_timeout']);
  let connectTimeoutMs = 10_000;
  if (timeoutVar) connectTimeoutMs = parseSeconds(timeoutVar.value, `${where}: ${timeoutVar.name}`);
  else if (cli.timeout !== undefined) connectTimeoutMs = cli.timeout * 1000;
  else if (args.connectTimeoutMs !== undefined && args.connectTimeoutMs > 0)
    connectTimeoutMs = args.connectTimeoutMs;
  else if (cfg.connectTimeoutMs !== undefined) connectTimeoutMs = cfg.connectTimeoutMs;

  // Ansible turns host_key_checking=False into StrictHostKeyChecking=no; when it is True
  // ssh's own configuration decides (default: ask, which without a terminal means refuse).
  const hkcVar = vars.ansible_host_key_checking ?? vars.ansible_ssh_host_key_checking;
  const ansibleHkc =
    parseHostKeyChecking(hkcVar) ??
    parseHostKeyChecking(env.ANSIBLE_HOST_KEY_CHECKING) ??
    cli.hostKeyChecking;
  const ansibleMode = typeof ansibleHkc === 'boolean' ? (ansibleHkc ? 'strict' : 'off') : ansibleHkc;
  let hostKeyChecking: HostKeyChecking;
  if (ansibleMode === 'off' || ansibleMode === 'accept-new') hostKeyChecking = ansibleMode;
  else hostKeyChecking = args.strictHostKeyChecking ?? cfg.strictHostKeyChecking ?? 'strict';

  const spec: ConnectionSpec = {
    host: inventoryHostname,
    connection,
    address,
    port,
    user,
    privateKeyFiles,
    hostKeyChecking,
    connectTimeoutMs,
    origin,
  };
  if (password !== undefined) spec.password = password;
  const knownHosts = args.userKnownHostsFiles ?? cfg.userKnownHostsFiles;
  if (knownHosts) spec.knownHostsFiles = knownHosts.map((f) => expandSshTokens(f, tokens));
  const jump = args.proxyJump ?? cfg.proxyJump;
  if (jump && jump.length > 0) {
    spec.proxyJump = jump.map((j) => resolveJump(j, configFiles, cli.home, privateKeyFiles, localUser));
  }
  if (cli.maxChannels !== undefined) spec.maxChannels = cli.maxChannels;
  const retriesRaw = str(vars.ansible_ssh_retries) ?? env.ANSIBLE_SSH_RETRIES ?? cli.retries;
  if (retriesRaw !== undefined) {
    const n = Number(retriesRaw);
    if (!Number.isInteger(n) || n < 0) {
      throw new UsageError(
        `${where}: ssh retries ${JSON.stringify(String(retriesRaw))} is not a whole number >= 0`,
      );
    }
    if (n > 0) spec.connectRetries = n;
  }
  const hash = args.hashKnownHosts ?? cfg.hashKnownHosts;
  if (hash !== undefined) spec.hashKnownHosts = hash;

  const becomeEnabled = ansibleBool(vars.ansible_become) ?? cli.become ?? false;
  const methodRaw = str(vars.ansible_become_method) ?? cli.becomeMethod ?? 'sudo';
  const method = methodRaw.replace(/^ansible\.builtin\./, '');
  if (!BECOME_METHODS.includes(method as BecomeMethod)) {
    if (becomeEnabled) {
      throw new UsageError(
        `${where}: become method ${JSON.stringify(methodRaw)} is not supported`,
        `drover supports ${BECOME_METHODS.join(' and ')}; set ansible_become_method accordingly`,
      );
    }
  } else {
    const become: Become & { enabled: boolean } = {
      enabled: becomeEnabled,
      method: method as BecomeMethod,
      user: str(vars.ansible_become_user) ?? cli.becomeUser ?? 'root',
    };
    const bpw = firstVar(vars, ['ansible_become_password', 'ansible_become_pass', `ansible_${method}_pass`]);
    const becomePassword = bpw?.value ?? cli.becomePassword;
    if (becomePassword !== undefined) become.password = becomePassword;
    const flags = str(vars.ansible_become_flags) ?? str(vars[`ansible_${method}_flags`]);
    if (flags !== undefined) become.flags = flags;
    const exe = str(vars.ansible_become_exe) ?? str(vars[`ansible_${method}_exe`]);
    if (exe !== undefined) become.exe = exe;
    spec.become = become;
  }
  return spec;
}

/**
 * A jump host as ssh would reach it: its alias resolved through the same ssh config
 * (HostName, Port, User, IdentityFile). Its identity files join the key list, since one
 * key list serves every hop.
 */
function resolveJump(
  jump: string,
  configFiles: string[] | undefined,
  home: string | undefined,
  keys: string[],
  localUser: string,
): string {
  const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(jump.replace(/^ssh:\/\//, ''));
  if (!m) return jump;
  const [, user, host, port] = m as unknown as [string, string | undefined, string, string | undefined];
  const alias = host.replace(/^\[|\]$/g, '');
  const cfg = resolveSshConfig(alias, {
    ...(configFiles ? { files: configFiles } : {}),
    ...(home ? { home } : {}),
  });
  const finalHost = cfg.hostName ?? alias;
  const finalPort = port ? Number(port) : (cfg.port ?? 22);
  const finalUser = user ?? cfg.user;
  for (const f of cfg.identityFiles) {
    const k = expandSshTokens(f, {
      host: finalHost,
      port: finalPort,
      remoteUser: finalUser ?? localUser,
      originalHost: alias,
      localUser,
      ...(home ? { home } : {}),
    });
    if (!keys.includes(k)) keys.push(k);
  }
  const h = finalHost.includes(':') ? `[${finalHost}]` : finalHost;
  return `${finalUser ? `${finalUser}@` : ''}${h}:${finalPort}`;
}

function safeLocalUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}

/**
 * Ansible's ssh command line order: ssh_args, then common args, then extra args. ssh keeps
 * the first value of each option, so this order is also the precedence.
 */
function sshArgsText(
  vars: Record<string, unknown>,
  cli: CliConnectionOptions,
  env: Record<string, string | undefined>,
): string {
  return [
    str(vars.ansible_ssh_args) ?? env.ANSIBLE_SSH_ARGS ?? cli.sshArgs,
    str(vars.ansible_ssh_common_args) ?? env.ANSIBLE_SSH_COMMON_ARGS ?? cli.sshCommonArgs,
    str(vars.ansible_ssh_extra_args) ?? env.ANSIBLE_SSH_EXTRA_ARGS ?? cli.sshExtraArgs,
  ]
    .filter((a): a is string => a !== undefined && a !== '')
    .join(' ');
}

/** Notes (ignored ssh options, Match blocks) worth a warning for this host. */
export function connectionNotes(vars: Record<string, unknown>, cli: CliConnectionOptions = {}): string[] {
  const args = parseSshArgs(sshArgsText(vars, cli, cli.env ?? process.env));
  const requested = str(vars.ansible_host) ?? '';
  const cfg = requested
    ? resolveSshConfig(requested, {
        ...(cli.sshConfigFiles ? { files: cli.sshConfigFiles } : {}),
        ...(cli.home ? { home: cli.home } : {}),
      })
    : { notes: [] };
  return [
    ...args.ignored.map((a) => `ssh option ${a} is not supported by drover and was ignored`),
    ...cfg.notes,
  ];
}
