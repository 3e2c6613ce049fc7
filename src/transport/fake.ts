/**
 * In-memory Connection for engine unit tests: answers scripts from handlers (first match
 * wins) and records every call, so a test can assert what the runner sent.
 */

import { readFile, writeFile } from 'node:fs/promises';
import type { Become, Connection, RunOptions, RunResult } from './types.js';
import { UnreachableError } from './types.js';

export interface FakeCall {
  kind: 'run' | 'put' | 'get';
  script?: string;
  opts?: RunOptions;
  /** put: the bytes sent; get: the remote path. */
  data?: Uint8Array;
  remote?: string;
  local?: string;
  mode?: number;
  become?: Become;
}

export type FakeAnswer =
  | Partial<RunResult>
  | ((script: string, opts: RunOptions) => Partial<RunResult> | Promise<Partial<RunResult>>);

interface Handler {
  match: RegExp | ((script: string, opts: RunOptions) => boolean);
  answer: FakeAnswer;
}

export class FakeConnection implements Connection {
  readonly calls: FakeCall[] = [];
  /** Files "on the host": put writes here, get reads from here. */
  readonly files = new Map<string, { data: Uint8Array; mode?: number }>();
  private readonly handlers: Handler[] = [];
  private unreachable: string | undefined;
  connected = false;
  closed = false;

  constructor(readonly host: string = 'fake') {}

  /** Answer scripts matching `match` (regex on the script, or a predicate). Earlier handlers win. */
  on(match: RegExp | ((script: string, opts: RunOptions) => boolean), answer: FakeAnswer): this {
    this.handlers.push({ match, answer });
    return this;
  }

  /** Make every later call reject as if the host were down. */
  setUnreachable(message: string | undefined): this {
    this.unreachable = message;
    return this;
  }

  private check(): void {
    if (this.unreachable !== undefined) throw new UnreachableError(this.host, this.unreachable);
  }

  async connect(): Promise<void> {
    this.check();
    this.connected = true;
  }

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.calls.push({ kind: 'run', script, opts });
    this.check();
    for (const h of this.handlers) {
      const hit = h.match instanceof RegExp ? h.match.test(script) : h.match(script, opts);
      if (!hit) continue;
      const a = typeof h.answer === 'function' ? await h.answer(script, opts) : h.answer;
      const r: RunResult = { rc: a.rc ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
      if (a.signal !== undefined) r.signal = a.signal;
      if (a.becomeError !== undefined) r.becomeError = a.becomeError;
      if (a.timedOut !== undefined) r.timedOut = a.timedOut;
      return r;
    }
    return {
      rc: 127,
      stdout: '',
      stderr: `FakeConnection(${this.host}): no handler matches script:\n${script.slice(0, 500)}`,
    };
  }

  async put(
    local: string | Uint8Array,
    remote: string,
    opts: { mode?: number; become?: Become } = {},
  ): Promise<void> {
    const data = typeof local === 'string' ? new Uint8Array(await readFile(local)) : local;
    const call: FakeCall = { kind: 'put', data, remote };
    if (typeof local === 'string') call.local = local;
    if (opts.mode !== undefined) call.mode = opts.mode;
    if (opts.become) call.become = opts.become;
    this.calls.push(call);
    this.check();
    const entry: { data: Uint8Array; mode?: number } = { data };
    if (opts.mode !== undefined) entry.mode = opts.mode;
    this.files.set(remote, entry);
  }

  async get(remote: string, local: string, opts: { become?: Become } = {}): Promise<void> {
    const call: FakeCall = { kind: 'get', remote, local };
    if (opts.become) call.become = opts.become;
    this.calls.push(call);
    this.check();
    const f = this.files.get(remote);
    if (!f) throw new Error(`FakeConnection(${this.host}): no file ${remote}`);
    await writeFile(local, f.data);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.connected = false;
  }

  /** The scripts run so far, in order. */
  get scripts(): string[] {
    return this.calls.filter((c) => c.kind === 'run').map((c) => c.script!);
  }
}
