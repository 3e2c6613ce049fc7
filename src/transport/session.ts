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

/**
 * The remote driver. Each frame is a header line `BOUNDARY SCRIPT_LEN STDIN_LEN`, then
 * the script bytes, then the stdin bytes. `head -c` reads exactly N bytes from a pipe (GNU
 * and busybox), and `read` reads byte by byte, so frames never bleed into each other. The
 * payload is staged in a file: a script that leaves stdin unread must not leave bytes behind.
 */
export const SESSION_DRIVER = [
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a JS template
  'd=$(mktemp -d "${TMPDIR:-/tmp}/drover-session.XXXXXX") || exit 1',
  `trap 'rm -rf "$d"' EXIT`,
  'while IFS=" " read -r b sl il; do',
  '  head -c "$sl" > "$d/s"',
  '  if [ "$il" -gt 0 ]; then head -c "$il" > "$d/i"; else : > "$d/i"; fi',
  '  sh "$d/s" < "$d/i"',
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

  /** All bytes so far; keeps everything after `end` for the next run. */
  take(end: number, skip: number): Buffer {
    const all = Buffer.concat(this.chunks);
    const rest = all.subarray(end + skip);
    this.chunks = rest.length > 0 ? [Buffer.from(rest)] : [];
    this.len = rest.length;
    this.lastChunk = rest.length;
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

  constructor(private readonly ch: ClientChannel) {
    ch.on('data', (c: Buffer) => {
      this.out.push(c);
      this.check();
    });
    ch.stderr.on('data', (c: Buffer) => {
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

  private kill(e: Error): void {
    if (this.dead) return;
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
    const { at, len, rc } = this.outMark;
    this.outMark = undefined;
    const stdout = this.out.take(at, len);
    const stderr = this.err.take(errEnd, errMark.length);
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
