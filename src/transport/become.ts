/**
 * Privilege escalation (sudo, su) shared by every transport that runs `sh` somewhere.
 *
 * The scheme is Ansible's: the escalated shell first echoes a random success marker,
 * then runs the real script. The controller watches the output: when the become tool
 * prints our random prompt it writes the password, and only after the marker appears does
 * it write the stdin payload. So the password reaches sudo/su and nothing else, the
 * payload never reaches a password prompt, and a wrong password is seen as a second prompt
 * (sudo) or an exit without the marker (su), never as a confusing script failure.
 */

import { randomBytes } from 'node:crypto';
import { quote } from '../shell/quote.js';
import type { Become } from './types.js';

/** What to exec and how to talk to it. */
export interface BecomeCommand {
  /** The command line to hand to the remote login shell (or `sh -c` locally). */
  command: string;
  /** Without become: the script itself (env exports included), for shells that run it directly. */
  body?: string;
  /** Bytes to send on stdin before the caller's payload (a large script travels this way). */
  stdinPrefix?: Buffer;
  /** Printed on stdout by the escalated shell before the script runs; absent without become. */
  successMarker?: string;
  /** Regex that matches the become tool's password prompt at the end of its output. */
  prompt?: RegExp;
  /** The password to answer the prompt with; absent when none was given. */
  password?: string;
  /** For messages: 'sudo' or 'su'. */
  method?: string;
  /** The command first prints `DROVER-PID:<pid>` on stderr (see `withPidLine`). */
  pidLine?: boolean;
  user?: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `export` lines for env, placed inside the innermost shell so sudo's env reset cannot drop them. */
export function envExports(env: Record<string, string> | undefined): string {
  if (!env) return '';
  const lines: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (!ENV_NAME.test(k)) throw new Error(`invalid environment variable name: ${JSON.stringify(k)}`);
    lines.push(`${k}=${quote(v)}; export ${k}\n`);
  }
  return lines.join('');
}

/** Scripts above this many bytes are sent on stdin (see buildBecomeCommand). */
export const INLINE_SCRIPT_LIMIT = 96 * 1024;

/** Reads exactly `bytes` of script from stdin into a temp file and runs it; the rest of stdin is the script's. */
function scriptLoader(bytes: number): string {
  return [
    't=$(mktemp) || exit 1',
    `head -c ${bytes} > "$t" || { rm -f "$t"; exit 1; }`,
    'sh "$t"',
    'rc=$?',
    'rm -f "$t"',
    'exit $rc',
  ].join('\n');
}

/**
 * Ansible's localized su prompts, reduced to the common ones; matched at the end of stderr:
 * Password, Passwort, Mot de passe, Contraseña, Senha, Пароль, 密码, パスワード, 암호, then a
 * colon (ASCII or fullwidth). Written with escapes: the bundle stays ASCII (ADR 121).
 */
const SU_PROMPT =
  /(Password|Passwort|Mot de passe|Contrase\u00f1a|Senha|\u041f\u0430\u0440\u043e\u043b\u044c|\u5bc6\u7801|\u30d1\u30b9\u30ef\u30fc\u30c9|\uc554\ud638)\s*[:\uff1a]\s*$/i;

/**
 * Build the command line for `script` run as the login user, or escalated with `become`.
 * `nonce` is for tests; production calls get a random one.
 */
export function buildBecomeCommand(
  script: string,
  become: Become | undefined,
  env?: Record<string, string>,
  nonce: string = randomBytes(12).toString('hex'),
): BecomeCommand {
  const fullBody = envExports(env) + script;
  // Linux caps one argv string at 128 KiB (MAX_ARG_STRLEN) and the login shell gets the
  // whole command as one: a larger script travels on stdin ahead of the payload instead.
  let body = fullBody;
  let stdinPrefix: Buffer | undefined;
  const bytes = Buffer.byteLength(fullBody, 'utf8');
  if (bytes > INLINE_SCRIPT_LIMIT) {
    stdinPrefix = Buffer.from(fullBody, 'utf8');
    body = scriptLoader(bytes);
  }
  // `exec` so the process ssh (or spawn) waits on is the script itself: its signal death
  // is reported as one, and no idle login shell stays around.
  if (!become) {
    const cmd: BecomeCommand = { command: `exec sh -c ${quote(body)}`, body: fullBody };
    if (stdinPrefix) cmd.stdinPrefix = stdinPrefix;
    return cmd;
  }

  const marker = `DROVER-BECOME-SUCCESS-${nonce}`;
  // The marker is echoed by the escalated shell itself, so seeing it proves escalation worked.
  const inner = `sh -c ${quote(`echo ${marker}\n${body}`)}`;
  const user = become.user || 'root';
  const withPassword = become.password !== undefined && become.password !== '';

  if (become.method === 'sudo') {
    const exe = become.exe || 'sudo';
    let flags = become.flags ?? '-H -S -n';
    const parts = ['exec', exe];
    let prompt: RegExp | undefined;
    if (withPassword) {
      // As Ansible does: -n would make sudo refuse to ask, so drop it (also from clusters like -Sn).
      flags = flags
        .split(/\s+/)
        .filter((f) => f !== '' && f !== '-n' && f !== '--non-interactive')
        .map((f) => (f.startsWith('--') ? f : f.replace(/^(-\w*)n(\w*)/, '$1$2')))
        .join(' ');
      // Without a terminal sudo reads the password only with -S (Ansible gets a pty instead).
      const hasS = flags.split(' ').some((f) => f === '--stdin' || /^-[A-Za-z]*S/.test(f));
      if (!hasS) flags = `${flags} -S`.trim();
      const promptText = `[drover-sudo:${nonce}] password:`;
      parts.push(flags, '-p', quote(promptText));
      prompt = new RegExp(`\\[drover-sudo:${nonce}\\] password:\\s*$`);
    } else if (flags) {
      parts.push(flags);
    }
    parts.push('-u', quote(user), inner);
    const cmd: BecomeCommand = {
      command: parts.filter((p) => p !== '').join(' '),
      successMarker: marker,
      method: 'sudo',
      user,
    };
    if (prompt) cmd.prompt = prompt;
    if (withPassword) cmd.password = become.password as string;
    if (stdinPrefix) cmd.stdinPrefix = stdinPrefix;
    return cmd;
  }

  if (become.method === 'su') {
    const exe = become.exe || 'su';
    const flags = become.flags ?? '-';
    const cmd: BecomeCommand = {
      command: ['exec', exe, flags, quote(user), '-c', quote(inner)].filter((p) => p !== '').join(' '),
      successMarker: marker,
      prompt: SU_PROMPT,
      method: 'su',
      user,
    };
    if (withPassword) cmd.password = become.password as string;
    if (stdinPrefix) cmd.stdinPrefix = stdinPrefix;
    return cmd;
  }

  throw new Error(`unsupported become method: ${String((become as { method: unknown }).method)}`);
}

/** The raw outcome of one process, before utf8 decoding. */
export interface RawOutcome {
  stdout: Buffer;
  stderr: Buffer;
  /** Set when escalation itself failed (wrong or missing password, sudo refused). */
  becomeError?: string;
}

/**
 * Speaks the become protocol over one process's stdio. The transport feeds it output
 * chunks; it decides when to write the password and the payload and when to close stdin.
 */
const PID_LINE = /^DROVER-PID:(\d+)\n/;

/**
 * Prefix the command so the remote login shell reports its pid (it is the session leader,
 * so its pid is also the process group to kill) before exec'ing the real command. Used
 * for runs with a timeout: sshd does not act on channel signal requests.
 */
export function withPidLine(cmd: BecomeCommand): BecomeCommand {
  return { ...cmd, command: `printf 'DROVER-PID:%s\\n' "$$" >&2; ${cmd.command}`, pidLine: true };
}

export class BecomeConversation {
  private readonly out: Buffer[] = [];
  private pidPending: Buffer | undefined;
  /** The remote session leader's pid, once reported (only with `pidLine`). */
  pid: number | undefined;
  private pre = Buffer.alloc(0); // stdout before the success marker
  private stderrText = '';
  private readonly stderrChunks: Buffer[] = [];
  private marked: boolean;
  private prompts = 0;
  private payloadSent = false;
  private failure: string | undefined;

  constructor(
    private readonly cmd: BecomeCommand,
    private readonly payload: Buffer | undefined,
    private readonly io: { write(b: Buffer): void; end(): void; abort(): void },
  ) {
    this.marked = cmd.successMarker === undefined;
    if (cmd.pidLine) this.pidPending = Buffer.alloc(0);
  }

  /** Call once the process is started. */
  start(): void {
    // Without a password nothing will ever read stdin before the script, so send it at once.
    if (this.cmd.successMarker === undefined || this.cmd.password === undefined) this.sendPayload();
  }

  onStdout(chunk: Buffer): void {
    if (this.marked) {
      this.out.push(chunk);
      return;
    }
    this.pre = Buffer.concat([this.pre, chunk]);
    const needle = Buffer.from(`${this.cmd.successMarker}\n`);
    const at = this.pre.indexOf(needle);
    if (at >= 0) {
      this.marked = true;
      // Whatever a login shell printed before the marker (motd, profile noise) is not the script's output.
      const rest = this.pre.subarray(at + needle.length);
      if (rest.length > 0) this.out.push(rest);
      this.pre = Buffer.alloc(0);
      this.sendPayload();
      return;
    }
    this.checkPrompt('stdout');
  }

  onStderr(data: Buffer): void {
    let chunk = data;
    if (this.pidPending !== undefined) {
      const buf = Buffer.concat([this.pidPending, chunk]);
      const nl = buf.indexOf(10);
      if (nl < 0 && buf.length < 40) {
        this.pidPending = buf;
        return;
      }
      this.pidPending = undefined;
      const m = PID_LINE.exec(buf.subarray(0, nl + 1).toString('latin1'));
      if (m) {
        this.pid = Number(m[1]);
        chunk = buf.subarray(nl + 1);
      } else {
        chunk = buf;
      }
      if (chunk.length === 0) return;
    }
    if (this.marked || this.cmd.prompt === undefined) {
      this.stderrChunks.push(chunk);
      return;
    }
    this.stderrText += chunk.toString('utf8');
    this.checkPrompt('stderr');
  }

  private checkPrompt(where: 'stdout' | 'stderr'): void {
    const prompt = this.cmd.prompt;
    if (!prompt || this.marked || this.failure) return;
    const text = where === 'stderr' ? this.stderrText : this.pre.toString('utf8');
    const m = prompt.exec(text);
    if (!m) return;
    // Drop the prompt so it neither reaches the user nor matches again.
    const stripped = text.slice(0, m.index);
    if (where === 'stderr') this.stderrText = stripped;
    else this.pre = Buffer.from(stripped, 'utf8');
    this.prompts++;
    const method = this.cmd.method ?? 'become';
    if (this.cmd.password === undefined) {
      this.fail(
        `${method} asked for a password to become ${this.cmd.user} but none was given: set ansible_become_password (or use --ask-become-pass)`,
      );
    } else if (this.prompts > 1) {
      this.fail(`incorrect ${method} password for becoming ${this.cmd.user}`);
    } else {
      this.io.write(Buffer.from(`${this.cmd.password}\n`, 'utf8'));
    }
  }

  private fail(message: string): void {
    this.failure = message;
    this.io.end();
    this.io.abort();
  }

  private sendPayload(): void {
    if (this.payloadSent) return;
    this.payloadSent = true;
    if (this.cmd.stdinPrefix) this.io.write(this.cmd.stdinPrefix);
    if (this.payload && this.payload.length > 0) this.io.write(this.payload);
    this.io.end();
  }

  /** Call after the process exited. `rc` decides whether a missing marker means failed escalation. */
  finish(rc: number): RawOutcome {
    if (this.pidPending && this.pidPending.length > 0) this.stderrChunks.push(this.pidPending);
    const stderr = Buffer.concat([Buffer.from(this.stderrText, 'utf8'), ...this.stderrChunks]);
    if (!this.marked) {
      const method = this.cmd.method ?? 'become';
      const said = stderr.toString('utf8').trim().split('\n').filter(Boolean).slice(-3).join(' / ');
      const becomeError =
        this.failure ??
        `${method} to ${this.cmd.user} failed (exit ${rc})${said ? `: ${said}` : ''}${
          /password is required/.test(said)
            ? ' (hint: set ansible_become_password or use --ask-become-pass)'
            : /Authentication failure|incorrect password/i.test(said)
              ? ' (hint: check ansible_become_password)'
              : ''
        }`;
      return { stdout: this.pre, stderr, becomeError };
    }
    return { stdout: Buffer.concat(this.out), stderr };
  }
}
