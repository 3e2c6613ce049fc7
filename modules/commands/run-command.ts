/**
 * The shared body of command, shell, script and raw: an optional creates/removes guard,
 * chdir, the command, and Ansible's result shape (cmd, rc, stdout, stderr, *_lines,
 * start, end, delta, msg). The guard and the command run in one round trip: the guard's
 * verdict comes back as a marker line with a per-run nonce, so no command output can fake it.
 */
import { randomBytes } from 'node:crypto';
import { quote } from '../../src/shell/quote.js';
import type { RunResult } from '../../src/transport/types.js';
import type { PlanContext, Step, TaskResult } from '../types.js';

/** Quote a path pattern for sh but leave glob characters active, as Python's glob.glob sees them. */
export function globWord(pattern: string): string {
  let out = '';
  let lit = '';
  const flush = () => {
    if (lit) out += quote(lit);
    lit = '';
  };
  for (const ch of pattern) {
    if (ch === '*' || ch === '?' || ch === '[' || ch === ']') {
      flush();
      out += ch;
    } else lit += ch;
  }
  flush();
  return out;
}

export interface CommandSpec {
  /** The sh text that runs the command itself (already safely quoted by the caller). */
  run: string;
  /** What `cmd` reports: argv list for command, the string for shell. */
  cmd: unknown;
  chdir?: string | undefined;
  creates?: string | undefined;
  removes?: string | undefined;
  stdin?: string | Uint8Array | undefined;
  stripEmptyEnds?: boolean;
  /** raw and script report `changed: true` without cmd/start/end keys of command. */
  shape?: 'command' | 'raw';
  /** Extra sh to run before the command (e.g. write a script file), after the guard. */
  prelude?: string;
  /** Extra sh to run after the command (clean-up); the command's rc is kept. */
  epilogue?: string;
}

function pyTimestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)}`;
}

function pyDelta(ms: number): string {
  const total = ms / 1000;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const sec = Math.floor(s);
  const micro = Math.round((s - sec) * 1_000_000);
  return `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}.${String(micro).padStart(6, '0')}`;
}

function stripEnds(s: string): string {
  return s.replace(/[\r\n]+$/, '');
}

function lines(s: string): string[] {
  return s === '' ? [] : s.split(/\r?\n/);
}

export function planCommand(spec: CommandSpec, ctx: PlanContext): Step | TaskResult {
  const nonce = randomBytes(6).toString('hex');
  const skipMark = `__drover_skip_${nonce}__`;
  const parts: string[] = [];
  // Ansible resolves creates/removes relative to chdir, so cd first.
  if (spec.chdir) {
    parts.push(
      `cd ${quote(spec.chdir)} 2>/dev/null || { echo "Unable to change directory before execution: ${spec.chdir.replaceAll('"', '')}" >&2; exit 1; }`,
    );
  }
  if (spec.creates) {
    parts.push(
      `for __f in ${globWord(spec.creates)}; do if [ -e "$__f" ] || [ -L "$__f" ]; then echo ${skipMark}creates; exit 0; fi; done`,
    );
  }
  if (spec.removes) {
    parts.push(
      `__found=; for __f in ${globWord(spec.removes)}; do if [ -e "$__f" ] || [ -L "$__f" ]; then __found=1; fi; done; [ -n "$__found" ] || { echo ${skipMark}removes; exit 0; }`,
    );
  }
  const guarded = Boolean(spec.creates || spec.removes);
  if (ctx.check) {
    // Ansible: in check mode the command never runs; without creates/removes it is skipped.
    if (!guarded) {
      return { changed: false, skipped: true, rc: 0, msg: 'Command would have run if not in check mode' };
    }
    parts.push(`echo ${skipMark}would-run; exit 0`);
  } else {
    if (spec.prelude) parts.push(spec.prelude);
    if (spec.epilogue) parts.push(`${spec.run}\n__rc=$?\n${spec.epilogue}\nexit $__rc`);
    else parts.push(spec.run);
  }
  const script = parts.join('\n');
  const started = new Date();
  const step: Step = {
    script,
    parse(r: RunResult): TaskResult {
      const ended = new Date();
      const first = r.stdout.split('\n', 1)[0] ?? '';
      if (r.rc === 0 && first.startsWith(skipMark)) {
        const why = first.slice(skipMark.length);
        if (why === 'would-run') {
          return {
            changed: true,
            rc: 0,
            msg: 'Command would have run if not in check mode',
            stdout: '',
            stderr: '',
          };
        }
        const path = why === 'creates' ? spec.creates : spec.removes;
        const msg =
          why === 'creates'
            ? `Did not run command since '${path}' exists`
            : `Did not run command since '${path}' does not exist`;
        return {
          changed: false,
          rc: 0,
          cmd: spec.cmd,
          msg,
          stdout: `skipped, since ${path} ${why === 'creates' ? 'exists' : 'does not exist'}`,
          stdout_lines: [`skipped, since ${path} ${why === 'creates' ? 'exists' : 'does not exist'}`],
          stderr: '',
          stderr_lines: [],
        };
      }
      const strip = spec.stripEmptyEnds ?? true;
      const stdout = strip ? stripEnds(r.stdout) : r.stdout;
      const stderr = strip ? stripEnds(r.stderr) : r.stderr;
      if (spec.shape === 'raw') {
        const res: TaskResult = {
          changed: true,
          rc: r.rc,
          stdout: r.stdout,
          stdout_lines: lines(stripEnds(r.stdout)),
          stderr: r.stderr,
          stderr_lines: lines(stripEnds(r.stderr)),
        };
        if (r.rc !== 0) {
          res.failed = true;
          res.msg = 'non-zero return code';
        }
        return res;
      }
      const res: TaskResult = {
        changed: true,
        cmd: spec.cmd,
        rc: r.rc,
        stdout,
        stderr,
        stdout_lines: lines(stdout),
        stderr_lines: lines(stderr),
        start: pyTimestamp(started),
        end: pyTimestamp(ended),
        delta: pyDelta(ended.getTime() - started.getTime()),
        msg: '',
      };
      if (r.rc !== 0) {
        res.failed = true;
        res.msg = 'non-zero return code';
      }
      return res;
    },
  };
  if (spec.stdin !== undefined && !ctx.check) step.stdin = spec.stdin;
  return step;
}
