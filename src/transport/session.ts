/**
 * "Session" mode: one long-lived remote `sh` per connection that reads length-framed
 * scripts from its stdin, so a task costs one round trip (send frame, read answer)
 * instead of two (open channel, then exec). The script's stdout and stderr go straight to
 * the channel's two streams; after each script the driver writes an end marker carrying a
 * random per-run boundary (and the rc) on both, so output needs no temp file and no length
 * prefix, and no script can forge the end of another's output.
 */

import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import { quote } from '../shell/quote.js';
import { type BecomeCommand, BecomeConversation } from './become.js';
import type { RawRun } from './transfer.js';

/** The driver's first line on stdout, once it can run frames. */
export const SESSION_READY = 'DROVER-SESSION-READY';

/** The session ended before its driver could run anything: the run can go to an exec channel. */
export class SessionNotStartedError extends Error {}

/** Scripts up to this size travel as one `sh -c` argument; longer ones are staged in a file. */
export const SESSION_INLINE_SCRIPT = 65536;

/**
 * The remote driver. Each frame is a header line `BOUNDARY SCRIPT_LEN STDIN_LEN`, then
 * the script bytes, then the stdin bytes. `head -c` reads exactly N bytes from a pipe (GNU
 * and busybox), and `read` reads byte by byte, so frames never bleed into each other.
 *
 * Nothing is written on the target for a usual run: the script becomes `sh -c`'s argument
 * and the stdin bytes reach it through a pipe from `head`, drained by `cat` once the script
 * exits, so a script that leaves stdin unread cannot leave bytes behind for the next frame.
 * Only a script longer than that is staged, in a directory made on first need and removed
 * when the driver exits.
 */
export const SESSION_DRIVER = [
  'd=',
  `trap '[ -z "$d" ] || rm -rf "$d"' EXIT`,
  // a dropped connection (HUP) or a kill still removes the staging dir
  `trap 'exit 129' HUP`,
  `trap 'exit 143' TERM`,
  // only now can a frame run: a session that dies before this line ran nothing
  `printf '${SESSION_READY}\\n'`,
  'while IFS=" " read -r b sl il; do',
  `  if [ "$sl" -le ${SESSION_INLINE_SCRIPT} ]; then`,
  '    s=$(head -c "$sl")',
  '    set -- -c "$s"',
  '  else',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a JS template
  '    [ -n "$d" ] || d=$(mktemp -d "${TMPDIR:-/tmp}/drover-session.XXXXXX") || exit 1',
  '    head -c "$sl" > "$d/s"',
  '    set -- "$d/s"',
  '  fi',
  '  if [ "$il" -gt 0 ]; then',
  '    head -c "$il" | { sh "$@"; r=$?; cat > /dev/null; exit $r; }',
  '  else',
  '    sh "$@" < /dev/null',
  '  fi',
  '  rc=$?',
  `  printf '\\n%s %s\\n' "$b" "$rc"`,
  `  printf '\\n%s\\n' "$b" >&2`,
  'done',
].join('\n');

export const SESSION_COMMAND = `exec sh -c ${quote(SESSION_DRIVER)}`;

/** Output of one stream; the end marker is searched only near the end, so 10 MiB stays linear. */
class StreamTail {
  private chunks: Buffer[] = [];
  private len = 0;
  private lastChunk = 0;

  push(c: Buffer): void {
    this.chunks.push(c);
    this.len += c.length;
    this.lastChunk = c.length;
  }

  /** Absolute index of `needle` if it lies within the last chunk plus one needle's length of slack. */
  find(needle: Buffer, slack = 0): number {
    const window = Math.min(this.len, this.lastChunk + needle.length + slack);
    const tail = this.tail(window);
    const at = tail.indexOf(needle);
    return at < 0 ? -1 : this.len - window + at;
  }

  private tail(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    for (let i = this.chunks.length - 1; i >= 0 && need > 0; i--) {
      const c = this.chunks[i]!;
      parts.unshift(c.length <= need ? c : c.subarray(c.length - need));
      need -= c.length;
    }
    return Buffer.concat(parts);
  }

  /**
   * The bytes before `end`; the stream is then empty. What followed the end marker can only be
   * stray output of a background process (the driver writes the marker last), so it is dropped.
   */
  take(end: number): Buffer {
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    this.len = 0;
    this.lastChunk = 0;
    return all.subarray(0, end);
  }

  at(from: number, to: number): Buffer {
    return Buffer.concat(this.chunks).subarray(from, to);
  }
}

interface Pending {
  boundary: string;
  cmd: BecomeCommand;
  resolve: (r: RawRun) => void;
  reject: (e: Error) => void;
}

export class SessionShell {
  private readonly out = new StreamTail();
  private readonly err = new StreamTail();
  private pending: Pending | undefined;
  private outMark: { at: number; len: number; rc: number } | undefined;
  private dead: Error | undefined;

  /** The driver printed SESSION_READY; before that, bytes collect in `preamble`. */
  private started = false;
  private preamble = '';

  constructor(private readonly ch: ClientChannel) {
    // Output while no run is pending can only come from a background process an earlier
    // script left behind with the session's stdout (an exec channel would have waited for
    // it): it belongs to no run, so it is dropped.
    ch.on('data', (chunk: Buffer) => {
      let c = chunk;
      if (!this.started) {
        // Anything a login script printed before the ready line is not a run's output.
        this.preamble = (this.preamble + chunk.toString('latin1')).slice(-65536);
        const at = this.preamble.indexOf(`${SESSION_READY}\n`);
        if (at < 0) return;
        this.started = true;
        c = Buffer.from(this.preamble.slice(at + SESSION_READY.length + 1), 'latin1');
        this.preamble = '';
        if (c.length === 0) return;
      }
      if (!this.pending) return;
      this.out.push(c);
      this.check();
    });
    ch.stderr.on('data', (c: Buffer) => {
      if (!this.pending) return;
      this.err.push(c);
      this.check();
    });
    ch.on('close', () => this.kill(new Error('the remote session shell ended')));
    ch.on('error', (e: Error) => this.kill(e));
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  /** The driver printed its ready line (it could run frames). */
  get everStarted(): boolean {
    return this.started;
  }

  /** Why the session ended, for logs. */
  get deathReason(): string {
    return this.dead?.message ?? '';
  }

  private kill(e: Error): void {
    if (this.dead) return;
    if (!this.started) e = new SessionNotStartedError(`the remote session shell did not start: ${e.message}`);
    this.dead = e;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }

  /** Run one command line (as built by buildBecomeCommand, no password prompt involved). */
  run(cmd: BecomeCommand, stdin: Buffer | undefined): Promise<RawRun> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.pending) return Promise.reject(new Error('session busy'));
    const boundary = `DROVER-END-${randomBytes(16).toString('hex')}`;
    // Without become the script runs directly in the driver's child sh: one exec fewer, and
    // no argv limit, so a large script needs no loader.
    const script = Buffer.from(`${cmd.body ?? cmd.command}\n`, 'utf8');
    const parts = [cmd.body === undefined ? cmd.stdinPrefix : undefined, stdin].filter(
      (b): b is Buffer => !!b,
    );
    const payload = Buffer.concat(parts);
    return new Promise<RawRun>((resolve, reject) => {
      this.pending = { boundary, cmd, resolve, reject };
      this.ch.write(
        Buffer.concat([Buffer.from(`${boundary} ${script.length} ${payload.length}\n`), script, payload]),
      );
    });
  }

  private check(): void {
    const p = this.pending;
    if (!p) return;
    // stdout ends with "\nBOUNDARY RC\n", stderr with "\nBOUNDARY\n"; both must have arrived.
    if (this.outMark === undefined) {
      const at = this.out.find(Buffer.from(`\n${p.boundary} `), 8);
      if (at < 0) return;
      const tail = this.out.at(at, at + p.boundary.length + 16);
      const m = new RegExp(`^\\n${p.boundary} (\\d+)\\n`).exec(tail.toString('latin1'));
      if (!m) return;
      this.outMark = { at, len: m[0].length, rc: Number(m[1]) };
    }
    const errMark = Buffer.from(`\n${p.boundary}\n`);
    const errEnd = this.err.find(errMark);
    if (errEnd < 0) return;
    const { at, rc } = this.outMark;
    this.outMark = undefined;
    const stdout = this.out.take(at);
    const stderr = this.err.take(errEnd);
    this.pending = undefined;
    // The become marker (passwordless sudo/su only here) is stripped the same way as on a channel.
    const conv = new BecomeConversation(p.cmd, undefined, {
      write: () => {},
      end: () => {},
      abort: () => {},
    });
    conv.onStdout(Buffer.from(stdout));
    conv.onStderr(Buffer.from(stderr));
    const o = conv.finish(rc);
    const r: RawRun = { rc, stdout: o.stdout, stderr: o.stderr };
    if (o.becomeError) {
      r.becomeError = o.becomeError;
      if (r.rc === 0) r.rc = 1;
    }
    p.resolve(r);
  }

  close(): void {
    this.kill(new Error('session closed'));
    this.ch.end();
  }
}
