import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { cleanupStale } from '../../src/machine/cleanup.js';
import { attachHost, bootHost, MachineError, stopHostDir, stopHostDirs } from '../../src/machine/host.js';
import { findFreePortRange, portFree } from '../../src/machine/ports.js';
import { canonicalPath } from '../../src/machine/processes.js';
import { sshdCommand } from '../../src/machine/sshd-layer.js';
import {
  diffSnapshots,
  digestOf,
  LOGIN_NOISE,
  type Snapshot,
  type SnapshotDiff,
  snapshotDir,
} from './digest.js';
import { fillUpper, freeId, readMachineTables, writeLayerTemplate } from './host-layer.js';

const run = promisify(execFile);

export const DPW_PASSWORD = 'dpw-secret';

/** Set by the e2e global setup to the shared fleet's dir. */
export const LAB_DIR_ENV = 'DROVER_LAB_DIR';

export interface FleetHost {
  name: string;
  port: number;
  hostDir: string;
  upperDir: string;
}

export interface FleetUser {
  name: string;
  uid: number;
  /** Only `dpw` has one; the others log in by key only. */
  password?: string;
  /** `none` (root), `nopasswd` (drover), `password` (dpw: sudo asks for it). */
  sudo: 'none' | 'nopasswd' | 'password';
}

/** The content of `fleet.json`. */
export interface FleetInfo {
  version: 1;
  /** Random per startFleet: a fleet object never stops a newer fleet booted in the same dir. */
  id: string;
  dir: string;
  prefix: string;
  basePort: number;
  count: number;
  /** Client private key (ed25519, no passphrase) accepted for every user on every host. */
  keyFile: string;
  publicKeyFile: string;
  hostKeyFile: string;
  /** `[127.0.0.1]:PORT ssh-ed25519 ...` for every host. */
  knownHostsFile: string;
  inventoryFile: string;
  ansibleCfgFile: string;
  /** OpenSSH client config: `ssh -F <this> h01` (user root, key, known_hosts set). */
  sshConfigFile: string;
  controlPathDir: string;
  templateDir: string;
  users: FleetUser[];
  hosts: FleetHost[];
}

export interface StartFleetOptions {
  count: number;
  /** Fleet dir: keys, inventory, fleet.json and one dir per host. Reused: whatever ran there is cleaned up first. */
  dir: string;
  /** Host i (0-based) listens on basePort + i. Default 22000. */
  basePort?: number;
  /** Host names are prefix + zero-padded index from 1. Default `h`. */
  prefix?: string;
  /** Boots at once. Default 16. */
  concurrency?: number;
}

function hostNames(prefix: string, count: number): string[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`);
}

export class Fleet {
  constructor(readonly info: FleetInfo) {}

  get dir(): string {
    return this.info.dir;
  }
  get hosts(): FleetHost[] {
    return this.info.hosts;
  }
  get keyFile(): string {
    return this.info.keyFile;
  }
  get knownHostsFile(): string {
    return this.info.knownHostsFile;
  }
  get inventoryFile(): string {
    return this.info.inventoryFile;
  }
  get ansibleCfgFile(): string {
    return this.info.ansibleCfgFile;
  }

  /** False once another startFleet has replaced this fleet in its dir. */
  async isCurrent(): Promise<boolean> {
    try {
      const now = JSON.parse(await readFile(join(this.dir, 'fleet.json'), 'utf8')) as { id?: unknown };
      return now.id === undefined || now.id === this.info.id;
    } catch {
      // No readable fleet.json: nothing shows a newer fleet, so this one still owns the dir.
      return true;
    }
  }

  host(name: string): FleetHost {
    const h = this.info.hosts.find((x) => x.name === name);
    if (!h) {
      throw new MachineError(
        `no host ${name} in the fleet at ${this.dir}`,
        `hosts are ${this.info.hosts.map((x) => x.name).join(', ')}`,
      );
    }
    return h;
  }

  /** Argv for the OpenSSH client to run `command` on a host (strict host key checking on). */
  sshArgs(name: string, user = 'root', command: string[] = []): string[] {
    const h = this.host(name);
    return [
      // The machine user's own ssh config must not change what the tests see.
      '-F',
      '/dev/null',
      '-i',
      this.keyFile,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `UserKnownHostsFile=${this.knownHostsFile}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      '-p',
      String(h.port),
      `${user}@127.0.0.1`,
      ...command,
    ];
  }

  async isRunning(name: string): Promise<boolean> {
    return (await attachHost(this.host(name).hostDir)) !== undefined;
  }

  async stopHost(name: string): Promise<void> {
    await stopHostDir(this.host(name).hostDir, { graceMs: 500 });
  }

  /** Boots a stopped host with its upper layer as it is (filled from the template if empty). */
  async startHost(name: string): Promise<void> {
    const h = this.host(name);
    if (await attachHost(h.hostDir)) return;
    await mkdir(h.upperDir, { recursive: true });
    // An upper layer with anything in it is the host's own state, whatever a test did to it.
    if ((await readdir(h.upperDir)).length === 0) await fillUpper(this.info.templateDir, h.upperDir, h.name);
    await bootHost({
      name: h.name,
      hostDir: h.hostDir,
      hostname: h.name,
      command: sshdCommand(h.port),
      ports: [h.port],
      // The lower layer is the machine's /, which holds this fleet dir: keys and every host's
      // upper layer. Hosts must not see (or walk) them.
      hide: [this.dir],
    });
  }

  /** Stop, wipe the upper layer, start: the host is as new. */
  async resetHost(name: string): Promise<void> {
    const h = this.host(name);
    await this.stopHost(name);
    await rm(h.upperDir, { recursive: true, force: true });
    await rm(join(h.hostDir, 'work'), { recursive: true, force: true });
    await this.startHost(name);
  }

  /** Every entry of the host's upper layer (what it changed), minus sshd's login bookkeeping. */
  snapshot(name: string, exclude: readonly string[] = LOGIN_NOISE): Promise<Snapshot> {
    // Hosts boot from the machine's own `/`: that is the lower layer to compare with.
    return snapshotDir(this.host(name).upperDir, exclude, '/');
  }

  /** A digest of the host's upper layer: equal before and after a run that wrote nothing. */
  async digest(name: string, exclude: readonly string[] = LOGIN_NOISE): Promise<string> {
    return digestOf(await this.snapshot(name, exclude));
  }

  diff(before: Snapshot, after: Snapshot): SnapshotDiff {
    return diffSnapshots(before, after);
  }

  /** Stops every host; leaves no process and no mount under the fleet dir (files stay). */
  async stop(): Promise<void> {
    if (!(await this.isCurrent())) return;
    await stopHostDirs(
      this.info.hosts.map((h) => h.hostDir),
      { graceMs: 0 },
    );
    await cleanupStale(this.dir);
  }
}

async function keygen(file: string, comment: string): Promise<void> {
  await rm(file, { force: true });
  await rm(`${file}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

function inventoryIni(info: FleetInfo): string {
  const lines = ['# drover lab fleet (generated by test/lab/fleet.ts)', '[fleet]'];
  for (const h of info.hosts) {
    lines.push(
      `${h.name} ansible_host=127.0.0.1 ansible_port=${h.port} ansible_user=root ` +
        `ansible_ssh_private_key_file=${info.keyFile} ansible_python_interpreter=/usr/bin/python3`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function sshConfig(info: FleetInfo): string {
  const lines = ['# drover lab fleet (generated by test/lab/fleet.ts): ssh -F <this file> HOST'];
  for (const h of info.hosts) {
    lines.push(
      `Host ${h.name}`,
      '  HostName 127.0.0.1',
      `  Port ${h.port}`,
      '  User root',
      `  IdentityFile ${info.keyFile}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${info.knownHostsFile}`,
      '  StrictHostKeyChecking yes',
      '',
    );
  }
  return lines.join('\n');
}

function ansibleCfg(info: FleetInfo): string {
  return [
    '# drover lab fleet (generated by test/lab/fleet.ts): use with ANSIBLE_CONFIG=<this file>',
    '[defaults]',
    `inventory = ${info.inventoryFile}`,
    'host_key_checking = False',
    'interpreter_python = /usr/bin/python3',
    `forks = ${Math.max(5, Math.min(info.count, 100))}`,
    'retry_files_enabled = False',
    '',
    '[ssh_connection]',
    'pipelining = True',
    // Own control sockets: masters from another fleet or run must never be reused here.
    `control_path_dir = ${info.controlPathDir}`,
    `ssh_args = -o ControlMaster=auto -o ControlPersist=30s -o UserKnownHostsFile=${info.knownHostsFile}`,
    '',
  ].join('\n');
}

/**
 * Boots `count` sshd hosts on 127.0.0.1:basePort.. from the machine's own root filesystem,
 * each with a private overlay upper layer. Anything left running in `dir` is cleaned up first.
 */
export async function startFleet(opts: StartFleetOptions): Promise<Fleet> {
  const dir = await canonicalPath(opts.dir);
  const basePort = opts.basePort ?? 22000;
  const prefix = opts.prefix ?? 'h';
  if (!Number.isInteger(opts.count) || opts.count < 1) {
    throw new MachineError(`fleet size must be a positive integer, got ${opts.count}`);
  }
  if (basePort < 1024 || basePort + opts.count - 1 > 65535) {
    throw new MachineError(`ports ${basePort}..${basePort + opts.count - 1} are out of range 1024..65535`);
  }
  if (!/^[a-z][a-z0-9-]*$/.test(prefix)) {
    throw new MachineError(`host name prefix ${prefix} is not a valid hostname start`, 'use [a-z][a-z0-9-]*');
  }
  await cleanupStale(dir);
  // All ports up front: other engineers' fleets share this loopback, and a clash found at
  // host 57 would mean booting 56 hosts for nothing.
  const busy: number[] = [];
  for (let p = basePort; p < basePort + opts.count; p++) if (!(await portFree(p))) busy.push(p);
  if (busy.length > 0) {
    const free = await findFreePortRange(opts.count, basePort).catch(() => undefined);
    throw new MachineError(
      `ports in use on 127.0.0.1: ${busy.slice(0, 10).join(', ')}${busy.length > 10 ? ', ...' : ''} ` +
        `(the fleet needs ${basePort}..${basePort + opts.count - 1})`,
      free === undefined
        ? 'stop what listens there'
        : `pick another base port, e.g. ${free} (--base-port ${free}), or stop what listens there`,
    );
  }
  await mkdir(dir, { recursive: true });
  // Only what this module creates is removed: `dir` may be user-chosen.
  for (const old of ['hosts', 'template', 'cp', 'fleet.json']) {
    await rm(join(dir, old), { recursive: true, force: true });
  }

  const info: FleetInfo = {
    version: 1,
    id: randomBytes(8).toString('hex'),
    dir,
    prefix,
    basePort,
    count: opts.count,
    keyFile: join(dir, 'id_ed25519'),
    publicKeyFile: join(dir, 'id_ed25519.pub'),
    hostKeyFile: join(dir, 'ssh_host_ed25519_key'),
    knownHostsFile: join(dir, 'known_hosts'),
    inventoryFile: join(dir, 'inventory.ini'),
    ansibleCfgFile: join(dir, 'ansible.cfg'),
    sshConfigFile: join(dir, 'ssh_config'),
    controlPathDir: join(dir, 'cp'),
    templateDir: join(dir, 'template'),
    users: [],
    hosts: hostNames(prefix, opts.count).map((name, i) => ({
      name,
      port: basePort + i,
      hostDir: join(dir, 'hosts', name),
      upperDir: join(dir, 'hosts', name, 'upper'),
    })),
  };

  const salt = randomBytes(12)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 16);
  const [, , hash] = await Promise.all([
    keygen(info.keyFile, 'drover-lab-client'),
    keygen(info.hostKeyFile, 'drover-lab-host'),
    // A published test password, so passing it as an argument leaks nothing.
    run('openssl', ['passwd', '-6', '-salt', salt, DPW_PASSWORD], { encoding: 'utf8' }),
  ]);
  const tables = await readMachineTables();
  const droverId = freeId([tables.passwd, tables.group], 2000);
  const dpwId = freeId([tables.passwd, tables.group, `x:x:${droverId}`], droverId + 1);
  info.users = [
    { name: 'root', uid: 0, sudo: 'none' },
    { name: 'drover', uid: droverId, sudo: 'nopasswd' },
    { name: 'dpw', uid: dpwId, password: DPW_PASSWORD, sudo: 'password' },
  ];
  const hostPublicKey = await readFile(`${info.hostKeyFile}.pub`, 'utf8');
  await writeLayerTemplate(info.templateDir, {
    clientPublicKey: await readFile(info.publicKeyFile, 'utf8'),
    hostPrivateKey: await readFile(info.hostKeyFile, 'utf8'),
    hostPublicKey,
    droverUser: { uid: droverId, gid: droverId },
    dpwUser: { uid: dpwId, gid: dpwId, hash: hash.stdout.trim() },
  });
  await chmod(info.templateDir, 0o755);

  const keyText = hostPublicKey.trim().split(/\s+/).slice(0, 2).join(' ');
  await writeFile(info.knownHostsFile, info.hosts.map((h) => `[127.0.0.1]:${h.port} ${keyText}\n`).join(''));
  await writeFile(info.inventoryFile, inventoryIni(info));
  await writeFile(info.ansibleCfgFile, ansibleCfg(info));
  await writeFile(info.sshConfigFile, sshConfig(info));
  await mkdir(info.controlPathDir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'fleet.json'), `${JSON.stringify(info, null, 2)}\n`);

  const fleet = new Fleet(info);
  const limit = pLimit(opts.concurrency ?? 16);
  try {
    await Promise.all(info.hosts.map((h) => limit(() => fleet.startHost(h.name))));
  } catch (err) {
    await cleanupStale(dir).catch(() => undefined);
    throw err;
  }
  return fleet;
}

/** The fleet described by `dir/fleet.json` (booted by this or another process). */
export async function openFleet(dirArg: string): Promise<Fleet> {
  const dir = await canonicalPath(dirArg);
  let raw: string;
  try {
    raw = await readFile(join(dir, 'fleet.json'), 'utf8');
  } catch {
    throw new MachineError(`no fleet in ${dir} (fleet.json missing)`, 'start one with `npm run lab -- up N`');
  }
  const info = JSON.parse(raw) as FleetInfo;
  if (info.version !== 1)
    throw new MachineError(`${dir}/fleet.json has unknown version ${String(info.version)}`);
  return new Fleet(info);
}
