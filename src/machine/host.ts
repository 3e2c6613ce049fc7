import { spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { DroverError, ExitCode } from '../errors.js';
import { quote, quoteArgs } from '../shell/quote.js';
import { portAccepting, portFree } from './ports.js';
import {
  canonicalPath,
  childrenOf,
  isRunning,
  isUnder,
  processesMountingUnder,
  processesRootedUnder,
  signal,
  waitFor,
} from './processes.js';
import { type HostSpec, type HostState, readState, removeState, statePath, writeState } from './state.js';

/** A host failed to boot or to stop; the message names the host and what to do. */
export class MachineError extends DroverError {
  readonly exitCode = ExitCode.error;
}

export interface HostHandle {
  name: string;
  /** The host's PID 1, as seen from the machine. */
  pid: number;
  launcherPid: number;
  hostDir: string;
  /** The merged root (an overlay mount visible only inside the host's mount namespace). */
  rootDir: string;
  /** Where every write made on the host lands. */
  upperDir: string;
  ports: number[];
  stop(opts?: StopOptions): Promise<void>;
}

export interface StopOptions {
  /** How long PID 1 gets after SIGTERM before the namespace is SIGKILLed. Default 1000 ms. */
  graceMs?: number;
  timeoutMs?: number;
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// Overlay mount options are comma-separated and lowerdir is colon-separated.
function checkLayerPath(what: string, p: string, host: string): void {
  if (!isAbsolute(p)) throw new MachineError(`host ${host}: ${what} must be an absolute path, got ${p}`);
  if (/[,:\\\n]/.test(p)) {
    throw new MachineError(
      `host ${host}: ${what} ${p} contains ',', ':', '\\' or a newline, which overlayfs options cannot carry`,
      'use a directory path without those characters',
    );
  }
}

// overlayfs refuses (ELOOP) a lower layer inside another lower layer of the same filesystem.
async function checkLowerNesting(lowers: readonly string[], host: string): Promise<void> {
  const devs = await Promise.all(
    lowers.map((l) =>
      stat(l).then(
        (st) => st.dev,
        () => {
          throw new MachineError(`host ${host}: lower dir ${l} does not exist`);
        },
      ),
    ),
  );
  lowers.forEach((a, i) => {
    lowers.forEach((b, j) => {
      if (i !== j && devs[i] === devs[j] && isUnder(a, b)) {
        throw new MachineError(
          `host ${host}: lower dir ${a} lies inside lower dir ${b} on the same filesystem; overlayfs refuses that`,
          'put the extra layer on another filesystem (e.g. a tmpfs) or outside the other layer',
        );
      }
    });
  });
}

export interface Layers {
  root: string;
  upper: string;
  work: string;
  /** The mount table the boot script mounts with one `mount --all` (fewer execs: faster boots under load). */
  fstab: string;
}

// fstab fields are separated by blanks; util-linux decodes octal escapes.
function fstabField(s: string): string {
  return s.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** The host's mounts, in order. Sources are distinct names so `mount --all` never takes a
 * tmpfs that came in with the /dev rbind for one of ours. */
export function bootFstab(spec: HostSpec, layers: Layers): string {
  const lower = (spec.lowerDirs ?? ['/']).join(':');
  const r = layers.root;
  const rows: [string, string, string, string][] = [
    ['overlay', r, 'overlay', `lowerdir=${lower},upperdir=${layers.upper},workdir=${layers.work}`],
    // A foreign rootfs (image builds) may lack the mount points: X-mount.mkdir makes them in the upper layer.
    // A fresh proc shows only the host's own PID namespace.
    ['drover-proc', `${r}/proc`, 'proc', 'nosuid,nodev,noexec,X-mount.mkdir'],
    spec.dev === 'minimal'
      ? ['drover-dev', `${r}/dev`, 'tmpfs', 'nosuid,noexec,mode=755,size=64k,X-mount.mkdir']
      : ['/dev', `${r}/dev`, 'none', 'rbind,X-mount.mkdir'],
    // /dev/shm of the machine would otherwise be shared by every host.
    ['drover-shm', `${r}/dev/shm`, 'tmpfs', 'nosuid,nodev,mode=1777,X-mount.mkdir'],
    ...(spec.dev === 'minimal'
      ? [
          ['devpts', `${r}/dev/pts`, 'devpts', 'newinstance,ptmxmode=0666,mode=620,X-mount.mkdir'] as [
            string,
            string,
            string,
            string,
          ],
        ]
      : []),
    ['/sys', `${r}/sys`, 'none', 'rbind,X-mount.mkdir'],
    ['drover-run', `${r}/run`, 'tmpfs', 'nosuid,nodev,mode=755,X-mount.mkdir'],
    ['drover-lock', `${r}/run/lock`, 'tmpfs', 'nosuid,nodev,noexec,mode=1777,X-mount.mkdir'],
  ];
  for (const b of spec.binds ?? []) {
    rows.push([b.source, join(r, b.target), 'none', `rbind,X-mount.mkdir${b.readOnly ? ',ro' : ''}`]);
  }
  return `${rows.map((row) => `${row.map(fstabField).join(' ')} 0 0`).join('\n')}\n`;
}

/** The sh script run as PID 1 of the new namespaces before it execs the host's command. */
export function bootScript(spec: HostSpec, layers: Layers): string {
  const r = quote(layers.root);
  const lines = [
    'set -eu',
    // The UTS namespace is new: this sets the host's hostname only (a builtin: no exec).
    `printf %s ${quote(spec.hostname ?? spec.name)} > /proc/sys/kernel/hostname`,
    `mount --all --fstab ${quote(layers.fstab)}`,
  ];
  if (spec.dev === 'minimal') {
    // Device nodes on the host's own tmpfs /dev: nothing of the machine's /dev is reachable.
    const dev = quote(join(layers.root, 'dev'));
    lines.push(
      `for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do n=\${d%%:*}; m=\${d#*:}; mknod -m 666 ${dev}/$n c \${m%:*} \${m#*:}; done`,
      `ln -s /proc/self/fd ${dev}/fd && ln -s /proc/self/fd/0 ${dev}/stdin && ln -s /proc/self/fd/1 ${dev}/stdout && ln -s /proc/self/fd/2 ${dev}/stderr && ln -s pts/ptmx ${dev}/ptmx`,
    );
  }
  for (const h of spec.hide ?? []) {
    const target = quote(join(layers.root, h));
    lines.push(
      `if [ -d ${target} ]; then mount -t tmpfs -o ro,nosuid,nodev,mode=755,size=4k drover-hide ${target}; fi`,
    );
  }
  lines.push(`exec chroot ${r} ${quoteArgs(spec.command)}`);
  return lines.join('\n');
}

async function tail(file: string, lines = 15): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Boots one namespaced host: its own mount, UTS and PID namespaces, an overlay of
 * `lowerDirs` with a private upper layer, fresh /proc, the machine's /dev and /sys, a tmpfs
 * /run, then `command` chrooted as PID 1. The host outlives the calling process (it is in
 * its own session); `host.json` records it so `stopHostDir` or `cleanupStale` can end it later.
 */
export async function bootHost(spec: HostSpec): Promise<HostHandle> {
  const hostDir = await canonicalPath(spec.hostDir);
  const layers: Layers = {
    root: join(hostDir, 'root'),
    upper: join(hostDir, 'upper'),
    work: join(hostDir, 'work'),
    fstab: join(hostDir, 'fstab'),
  };
  for (const p of [layers.root, layers.upper, layers.work]) checkLayerPath('layer dir', p, spec.name);
  for (const l of spec.lowerDirs ?? ['/']) checkLayerPath('lower dir', l, spec.name);
  await checkLowerNesting(spec.lowerDirs ?? ['/'], spec.name);
  if (spec.command.length === 0) throw new MachineError(`host ${spec.name}: no command to run`);

  const previous = await readState(hostDir);
  if (previous && (await isOurLauncher(previous.launcherPid, previous.rootDir))) {
    throw new MachineError(
      `host ${spec.name} is already running (pid ${previous.pid}, state ${statePath(hostDir)})`,
      'stop it first',
    );
  }
  // A record without a live launcher: a crash left it; end whatever may still run inside.
  if (previous) await stopHostDir(hostDir, { graceMs: 0 });
  const ports = spec.ports ?? [];
  for (const port of ports) {
    if (!(await portFree(port))) {
      throw new MachineError(
        `host ${spec.name}: port 127.0.0.1:${port} is already in use`,
        'stop whatever listens there (a leftover fleet: run the lab `down` command) or pick other ports',
      );
    }
  }
  await Promise.all([layers.root, layers.upper, layers.work].map((d) => mkdir(d, { recursive: true })));
  await writeFile(layers.fstab, bootFstab(spec, layers));

  const consoleLog = join(hostDir, 'console.log');
  const out = openSync(consoleLog, 'a');
  const child = spawn(
    'unshare',
    [
      '--mount',
      '--uts',
      '--pid',
      '--fork',
      '--propagation',
      'private',
      // If the launcher is killed, the host's PID 1 dies and the kernel ends the whole namespace.
      '--kill-child',
      '/bin/sh',
      '-c',
      bootScript(spec, layers),
    ],
    { detached: true, stdio: ['ignore', out, out], env: { PATH, ...spec.env } },
  );
  closeSync(out);
  child.unref();
  const launcherPid = child.pid;
  if (launcherPid === undefined) {
    throw new MachineError(`host ${spec.name}: could not start unshare`, 'is util-linux installed?');
  }
  const state: HostState = {
    version: 1,
    name: spec.name,
    hostDir,
    rootDir: layers.root,
    upperDir: layers.upper,
    workDir: layers.work,
    launcherPid,
    pid: 0,
    ports,
    startedAt: new Date().toISOString(),
    spec: { ...spec, hostDir },
  };
  // Synchronously, so a crash right after spawn still leaves a record to clean up from.
  writeFileSync(statePath(hostDir), `${JSON.stringify(state, null, 2)}\n`);

  const handle: HostHandle = {
    name: spec.name,
    pid: 0,
    launcherPid,
    hostDir,
    rootDir: layers.root,
    upperDir: layers.upper,
    ports,
    stop: (opts) => stopHostDir(hostDir, opts),
  };
  const fail = async (why: string): Promise<never> => {
    await stopHostDir(hostDir, { graceMs: 0 }).catch(() => undefined);
    const log = await tail(consoleLog);
    throw new MachineError(
      `host ${spec.name} did not boot: ${why}${log ? `\n--- ${consoleLog} ---\n${log}` : ''}`,
      `see ${consoleLog}`,
    );
  };

  const timeoutMs = spec.readyTimeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  const chrooted = await waitFor(
    async () => {
      if (!(await isRunning(launcherPid))) {
        exited = true;
        return true;
      }
      if (handle.pid === 0) handle.pid = (await childrenOf(launcherPid))[0] ?? 0;
      if (handle.pid === 0) return false;
      try {
        return isUnder(await readlink(`/proc/${handle.pid}/root`), layers.root);
      } catch {
        return false;
      }
    },
    timeoutMs,
    5,
  );
  if (exited) return fail('the boot script exited');
  if (!chrooted) return fail(`not chrooted after ${timeoutMs} ms`);
  state.pid = handle.pid;
  await writeState(state);

  for (const port of ports) {
    const up = await waitFor(
      async () => {
        if (!(await isRunning(handle.pid))) {
          exited = true;
          return true;
        }
        return portAccepting(port);
      },
      Math.max(0, deadline - Date.now()),
      5,
    );
    if (exited) return fail(`its command exited before listening on port ${port}`);
    if (!up) return fail(`port ${port} not accepting after ${timeoutMs} ms`);
  }
  return handle;
}

/** Handle for a host booted by an earlier process, or undefined when it is not running. */
export async function attachHost(hostDir: string): Promise<HostHandle | undefined> {
  const dir = await canonicalPath(hostDir);
  const state = await readState(dir);
  if (!state || !(await isRunning(state.launcherPid))) return undefined;
  return {
    name: state.name,
    pid: state.pid,
    launcherPid: state.launcherPid,
    hostDir: dir,
    rootDir: state.rootDir,
    upperDir: state.upperDir,
    ports: state.ports,
    stop: (opts) => stopHostDir(dir, opts),
  };
}

/** Whether the process at `pid` is the launcher of the host at `rootDir` (not a recycled pid). */
async function isOurLauncher(pid: number, rootDir: string): Promise<boolean> {
  try {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.startsWith('unshare\0') && cmd.includes(rootDir);
  } catch {
    return false;
  }
}

/**
 * Stops the host in `hostDir` (by its state record, so any process can), and returns once
 * no process is left inside it and its ports are free. Safe to call on a stopped host.
 */
export function stopHostDir(hostDir: string, opts: StopOptions = {}): Promise<void> {
  return stopHostDirs([hostDir], opts);
}

interface Stopping {
  dir: string;
  name: string;
  init: number;
  launcher: number;
  ports: number[];
}

/**
 * Stops several hosts at once: signals all of them first, then waits with one shared
 * /proc scan (a scan per host per poll made stopping 100 hosts take seconds).
 */
export async function stopHostDirs(hostDirs: readonly string[], opts: StopOptions = {}): Promise<void> {
  const graceMs = opts.graceMs ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const hosts: Stopping[] = await Promise.all(
    hostDirs.map(async (hostDir) => {
      const dir = await canonicalPath(hostDir);
      const state = await readState(dir);
      const rootDir = state?.rootDir ?? join(dir, 'root');
      const launcher = state && (await isOurLauncher(state.launcherPid, rootDir)) ? state.launcherPid : 0;
      let init = 0;
      if (state?.pid && (await isRunning(state.pid))) {
        try {
          if (isUnder(await readlink(`/proc/${state.pid}/root`), dir)) init = state.pid;
        } catch {
          // gone
        }
      }
      return { dir, name: state?.name ?? dir, init, launcher, ports: state?.ports ?? [] };
    }),
  );
  const inits = hosts.map((h) => h.init).filter((p) => p !== 0);
  if (inits.length > 0 && graceMs > 0) {
    for (const pid of inits) signal(pid, 'SIGTERM');
    await waitFor(async () => (await Promise.all(inits.map(isRunning))).every((r) => !r), graceMs);
  }
  // SIGKILL of a PID namespace's init kills every process in it, sessions or not.
  for (const h of hosts) {
    if (h.init) signal(h.init, 'SIGKILL');
    if (h.launcher) signal(h.launcher, 'SIGKILL');
  }
  const dirs = hosts.map((h) => h.dir);
  const launchers = hosts.map((h) => h.launcher).filter((p) => p !== 0);
  // An exiting PID 1 has dropped its root link while it still waits for the rest of its
  // namespace, so the recorded pids and the namespaces' mount tables are waited on too.
  const recorded = [...launchers, ...inits];
  const leftovers = async (): Promise<number[]> => {
    const rooted = await processesRootedUnder(dirs);
    const alive = (await Promise.all(recorded.map(async (p) => ((await isRunning(p)) ? p : 0)))).filter(
      (p) => p !== 0,
    );
    const mounting = rooted.length + alive.length === 0 ? await processesMountingUnder(dirs) : [];
    return [...new Set([...rooted, ...alive, ...mounting])];
  };
  const gone = await waitFor(async () => {
    const left = await leftovers();
    for (const pid of left) signal(pid, 'SIGKILL');
    return left.length === 0;
  }, timeoutMs);
  if (!gone) {
    const left = await leftovers();
    throw new MachineError(
      `processes ${left.join(', ')} still run inside ${dirs.join(', ')} after ${timeoutMs} ms`,
      'they may be stuck in uninterruptible I/O; check `ps -o pid,stat,cmd -p <pid>`',
    );
  }
  for (const h of hosts) {
    for (const port of h.ports) {
      if (!(await waitFor(() => portFree(port), timeoutMs))) {
        throw new MachineError(
          `host ${h.name}: port 127.0.0.1:${port} is still in use after the host stopped`,
          `find the holder with \`ss -ltnp 'sport = :${port}'\``,
        );
      }
    }
    await removeState(h.dir);
  }
}
