/**
 * ansible_connection=local: the same scripts and become protocol as ssh, run by a local
 * `sh`. Used for localhost plays and by tests that need a real shell but no sshd.
 */

import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { type BecomeCommand, BecomeConversation, buildBecomeCommand } from './become.js';
import { decode, type RawExec } from './ssh.js';
import { getWith, putWith, type RawRun } from './transfer.js';
import type { Become, Connection, RunOptions, RunResult } from './types.js';

export class LocalConnection implements Connection {
  private readonly children = new Set<number>();

  constructor(
    readonly host: string = 'localhost',
    private readonly shell: string = '/bin/sh',
  ) {}

  async connect(): Promise<void> {}

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    const cmd = buildBecomeCommand(script, opts.become, opts.env);
    const stdin = opts.stdin === undefined ? undefined : Buffer.from(opts.stdin);
    return decode(await this.exec(cmd, stdin, opts.timeoutMs));
  }

  private rawRunner = (
    script: string,
    stdin: Buffer | undefined,
    become: Become | undefined,
  ): Promise<RawRun> => this.exec(buildBecomeCommand(script, become), stdin, undefined);

  exec(cmd: BecomeCommand, stdin: Buffer | undefined, timeoutMs: number | undefined): Promise<RawExec> {
    return new Promise((resolve, reject) => {
      // Own process group, so a timeout kills the whole tree, not only the outer sh.
      const child = spawn(this.shell, ['-c', cmd.command], { stdio: 'pipe', detached: true });
      const pid = child.pid;
      if (pid !== undefined) this.children.add(pid);
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      const killTree = (): void => {
        if (pid === undefined) return;
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      child.stdin.on('error', () => {
        // The script may exit without reading its stdin; that is not an error of the run.
      });
      const conv = new BecomeConversation(cmd, stdin, {
        write: (b) => {
          child.stdin.write(b);
        },
        end: () => {
          child.stdin.end();
        },
        abort: killTree,
      });
      child.stdout.on('data', (c: Buffer) => conv.onStdout(c));
      child.stderr.on('data', (c: Buffer) => conv.onStderr(c));
      child.on('error', (e) => {
        if (timer) clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        if (pid !== undefined) this.children.delete(pid);
        let rc = code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : -1);
        if (timedOut) rc = 124;
        const out = conv.finish(rc);
        const r: RawExec = { rc, stdout: out.stdout, stderr: out.stderr };
        if (signal && !timedOut) r.signal = signal.replace(/^SIG/, '');
        if (out.becomeError) {
          r.becomeError = out.becomeError;
          if (r.rc === 0) r.rc = 1;
        }
        if (timedOut) {
          r.timedOut = true;
          r.stderr = Buffer.concat([
            r.stderr,
            Buffer.from(`drover: command timed out after ${(timeoutMs ?? 0) / 1000}s and was killed\n`),
          ]);
        }
        resolve(r);
      });
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => {
          timedOut = true;
          killTree();
        }, timeoutMs);
      }
      conv.start();
    });
  }

  put(
    local: string | Uint8Array,
    remote: string,
    opts: { mode?: number; become?: Become } = {},
  ): Promise<void> {
    return putWith(this.rawRunner, this.host, local, remote, opts);
  }

  get(remote: string, local: string, opts: { become?: Become } = {}): Promise<void> {
    return getWith(this.rawRunner, this.host, remote, local, opts);
  }

  async close(): Promise<void> {
    for (const pid of this.children) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.children.clear();
  }
}
