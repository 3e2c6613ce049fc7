/**
 * Runs one controller command and measures it the way the benchmark table reports it:
 * wall time, CPU time of the whole controller process tree, peak RSS of that tree and the
 * most file descriptors it held at once.
 *
 * CPU comes from bash's `times` (the rusage of every waited-for descendant), written to fd 3
 * so it never mixes with the command's output. Processes that detach and are never waited
 * for (OpenSSH ControlPersist masters) are invisible to rusage, so /proc is polled as well:
 * every process ever seen under the wrapper stays tracked after it is re-parented, its
 * RSS counts towards the peak, and the CPU of those still alive at the end is added.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Measurement {
  wallMs: number;
  /** user + sys of the controller process tree, in ms. */
  cpuMs: number;
  /** Peak of the summed RSS of the tree, in KiB. */
  peakRssKb: number;
  /** Peak of the summed open fds of the tree (bash wrapper excluded). */
  peakFds: number;
  /**
   * CPU the target hosts spent (sshd, shells, scripts, python), in ms: the change in their
   * sshd masters' own plus reaped-children times. Only set when targetPids was given.
   */
  targetCpuMs?: number;
  code: number;
  stdout: string;
  stderr: string;
}

export interface MeasureOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Poll interval of /proc, ms. */
  pollMs?: number;
  timeoutMs?: number;
  /** Kill processes of the tree that outlive the command (ControlPersist masters). Default true. */
  killLeftovers?: boolean;
  /**
   * Also track any process whose command line contains this string (ansible's per-run
   * control_path_dir): ControlPersist masters daemonize within milliseconds, faster than a
   * poll can see their parent, and must still count and be ended.
   */
  adopt?: string;
  /** PIDs of the target hosts' sshd masters (lab hosts on this machine). */
  targetPids?: number[];
}

/** utime + stime + cutime + cstime of a process, in ticks (0 if it is gone). */
function lifetimeTicks(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
  } catch {
    return 0;
  }
}

/** Waits until none of `pids` has a child (open sessions), at most `maxMs`. */
async function sessionsEnded(pids: number[], maxMs: number): Promise<void> {
  const masters = new Set(pids);
  const deadline = performance.now() + maxMs;
  while (performance.now() < deadline) {
    let open = false;
    for (const pid of allPids()) {
      const s = readStat(pid);
      if (s && masters.has(s.ppid)) {
        open = true;
        break;
      }
    }
    if (!open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sumTicks = (pids: number[]): number => pids.reduce((n, p) => n + lifetimeTicks(p), 0);

const CLK_TCK = 100;
const PAGE_KB = 4;

interface ProcStat {
  ppid: number;
  startTime: string;
  cpuTicks: number;
  rssPages: number;
}

/** Fields of /proc/PID/stat after the command name (which may hold spaces and parens). */
function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): field N is rest[N - 3].
  return {
    ppid: Number(rest[1]),
    cpuTicks: Number(rest[11]) + Number(rest[12]),
    startTime: rest[19] ?? '',
    rssPages: Number(rest[21]),
  };
}

function countFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

function allPids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(name));
  }
  return out;
}

/** Parses bash `times` output: the second line is the children's user and sys time. */
export function parseTimes(text: string): number {
  const lines = text.trim().split('\n');
  const children = lines[1] ?? lines[0] ?? '';
  let ms = 0;
  for (const m of children.matchAll(/(\d+)m([\d.]+)s/g)) {
    ms += (Number(m[1]) * 60 + Number(m[2])) * 1000;
  }
  return ms;
}

export function measure(argv: string[], opts: MeasureOptions = {}): Promise<Measurement> {
  const pollMs = opts.pollMs ?? 20;
  const script = '"$@"; rc=$?; times >&3; exit $rc';
  const targetBefore = opts.targetPids ? sumTicks(opts.targetPids) : 0;
  const t0 = performance.now();
  const child = spawn('bash', ['-c', script, 'bench', ...argv], {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  const root = child.pid;
  if (root === undefined) return Promise.reject(new Error(`could not start ${argv[0]}`));

  // pid -> start time: a recycled pid is a different process.
  const tracked = new Map<number, string>();
  const lastCpu = new Map<number, number>();
  let peakRssKb = 0;
  let peakFds = 0;
  const poll = (): void => {
    const stats = new Map<number, ProcStat>();
    for (const pid of allPids()) {
      const s = readStat(pid);
      if (s) stats.set(pid, s);
    }
    const rootStat = stats.get(root);
    if (rootStat && !tracked.has(root)) tracked.set(root, rootStat.startTime);
    // Parents come before children in pid order only usually, so iterate to a fixpoint.
    let grew = true;
    while (grew) {
      grew = false;
      for (const [pid, s] of stats) {
        if (tracked.has(pid)) continue;
        const parentStart = tracked.get(s.ppid);
        if (parentStart !== undefined && stats.get(s.ppid)?.startTime === parentStart) {
          tracked.set(pid, s.startTime);
          grew = true;
        }
      }
    }
    if (opts.adopt) {
      for (const [pid, st] of stats) {
        if (tracked.has(pid) || pid === process.pid) continue;
        let cmdline = '';
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
        } catch {
          continue;
        }
        if (cmdline.includes(opts.adopt)) tracked.set(pid, st.startTime);
      }
    }
    let rss = 0;
    let fds = 0;
    for (const [pid, start] of tracked) {
      const s = stats.get(pid);
      if (!s || s.startTime !== start) continue;
      rss += s.rssPages * PAGE_KB;
      lastCpu.set(pid, s.cpuTicks);
      if (pid !== root) fds += countFds(pid);
    }
    peakRssKb = Math.max(peakRssKb, rss);
    peakFds = Math.max(peakFds, fds);
  };
  poll();
  const timer = setInterval(poll, pollMs);

  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const times: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  const fd3 = child.stdio[3];
  fd3?.on('data', (c: Buffer) => times.push(c));
  const killer = opts.timeoutMs
    ? setTimeout(() => {
        try {
          process.kill(root, 'SIGKILL');
        } catch {
          // already gone
        }
      }, opts.timeoutMs)
    : undefined;

  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', async (code, signal) => {
      const wallMs = performance.now() - t0;
      clearInterval(timer);
      if (killer) clearTimeout(killer);
      let cpuMs = parseTimes(Buffer.concat(times).toString('utf8'));
      // Detached survivors (never waited for, so not in `times`): add what they used.
      for (const [pid, start] of tracked) {
        if (pid === root) continue;
        const s = readStat(pid);
        if (!s || s.startTime !== start) continue;
        cpuMs += (s.cpuTicks / CLK_TCK) * 1000;
        if (opts.killLeftovers ?? true) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            // exited meanwhile
          }
        }
      }
      let targetCpuMs: number | undefined;
      if (opts.targetPids) {
        // A session's CPU reaches the sshd master's cutime only when the session process is
        // reaped, after the client's connection (or its ControlPersist master) is gone.
        await sessionsEnded(opts.targetPids, 10_000);
        targetCpuMs = ((sumTicks(opts.targetPids) - targetBefore) / CLK_TCK) * 1000;
      }
      resolve({
        wallMs,
        targetCpuMs,
        cpuMs,
        peakRssKb,
        peakFds,
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}
