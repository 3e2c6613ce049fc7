#!/usr/bin/env node
/**
 * Processes per task: replays the scripts one host received in a recorded drover run
 * (DROVER_BENCH_RECORD, see record-scripts.ts) on this machine under `strace -f`, and
 * counts, per script, the processes it created (fork/vfork/clone without CLONE_THREAD) and
 * the programs it executed (successful execve). The outer `sh -c` that stands in for the
 * target's login shell is not counted: what is left is what the script itself costs.
 *
 *   unshare -m --propagation private sh -c \
 *     'mount -t tmpfs bench-tmp /tmp && node dist/bench/procs.js REC.json [REC2.json ...]'
 *
 * The private tmpfs on /tmp keeps the replayed writes (/tmp/drover-bench) off this machine.
 * Several recordings replay in order (e.g. first run, then rerun) against the same state.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Step {
  command: string;
  stdin?: string;
}

/** A short name for a recorded script, from what its body contains. */
export function labelOf(command: string): string {
  if (command.includes('echo pong')) return 'ping';
  if (command.includes('dr_state()')) return 'file';
  if (command.includes('want_sum=')) return 'put (copy/template/lineinfile write)';
  if (command.includes('dr_outfile content')) return 'edit read (lineinfile)';
  if (command.includes('dr_out raw')) return 'stat';
  if (command.includes("exec /bin/sh -c '")) return 'shell';
  if (/exec sh -c '?exec /.test(command)) return 'command';
  return 'other';
}

export interface Count {
  forks: number;
  execs: number;
  programs: string[];
}

/** Counts fork-like calls and successful execs in an `strace -f` log (first exec excluded). */
export function countTrace(log: string): Count {
  let forks = 0;
  const programs: string[] = [];
  // strace -f splits a call another process interrupted into "<unfinished ...>" and
  // "<... NAME resumed>" lines: remember the pending program per pid.
  const pending = new Map<string, string>();
  for (const line of log.split('\n')) {
    const pid = /^(\d+)\s/.exec(line)?.[1] ?? '';
    const call = /^\d+\s+(?:<\.\.\. )?(\w+)/.exec(line)?.[1] ?? '';
    const ok = /= \d+$/.test(line);
    if (/^(v?fork|clone3?)$/.test(call) && !line.includes('CLONE_THREAD') && ok) forks++;
    if (call !== 'execve') continue;
    const name = /execve\("([^"]+)"/.exec(line)?.[1];
    if (name !== undefined) pending.set(pid, name);
    if (line.endsWith('= 0')) {
      programs.push((name ?? pending.get(pid) ?? '?').replace(/^.*\//, ''));
    }
  }
  // the first exec is the outer `sh -c` itself (the target's login shell)
  programs.shift();
  return { forks, execs: programs.length, programs };
}

function replay(step: Step, dir: string): Count {
  const log = join(dir, 'trace');
  rmSync(log, { force: true });
  const r = spawnSync(
    'strace',
    ['-f', '-qq', '-e', 'trace=execve,fork,vfork,clone,clone3', '-o', log, 'sh', '-c', step.command],
    {
      input: step.stdin ? Buffer.from(step.stdin, 'base64') : Buffer.alloc(0),
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  if (r.error) throw r.error;
  return countTrace(readFileSync(log, 'utf8'));
}

function main(): void {
  const files = process.argv.slice(2);
  if (files.length === 0) throw new Error('usage: procs.js RECORDING.json [RECORDING.json ...]');
  const dir = mkdtempSync(join(tmpdir(), 'drover-procs-'));
  try {
    for (const file of files) {
      const byPort = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Step[]>;
      const steps = Object.values(byPort)[0] ?? [];
      let forks = 0;
      let execs = 0;
      process.stdout.write(`${file}: ${steps.length} scripts of one host\n`);
      for (const [i, s] of steps.entries()) {
        const c = replay(s, dir);
        forks += c.forks;
        execs += c.execs;
        process.stdout.write(
          `  ${String(i + 1).padStart(3)}  ${labelOf(s.command).padEnd(38)} forks ${String(c.forks).padStart(3)}  execs ${String(c.execs).padStart(3)}  ${c.programs.join(' ')}\n`,
        );
      }
      process.stdout.write(`  total: forks ${forks}, execs ${execs}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('procs.js')) main();
