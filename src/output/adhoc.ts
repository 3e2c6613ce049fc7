/**
 * Output of `drover exec`, as the `ansible` command prints it: the minimal callback
 * (`host | CHANGED | rc=0 >>` for command modules, `host | SUCCESS => {json}` otherwise)
 * or, with -o, the oneline callback.
 */
import type { TaskResult } from '../../modules/types.js';
import type { EventHandlers, EventOf, EventSink, RunEvent } from '../events/types.js';
import { cleanResult } from './human.js';
import { pyJson } from './pyjson.js';

/** Modules whose output is printed as text, not JSON (Ansible's MODULE_NO_JSON). */
const NO_JSON = new Set(['command', 'shell', 'raw']);

export interface AdhocOptions {
  write: (s: string) => void;
  writeErr?: (s: string) => void;
  color: boolean;
  oneline: boolean;
  verbosity: number;
}

const C = { ok: '0;32', changed: '0;33', error: '0;31', skip: '0;36', unreachable: '1;31', warn: '1;35' };

export class AdhocOutput implements EventSink {
  constructor(private readonly o: AdhocOptions) {}

  private out(s: string, color: keyof typeof C): void {
    this.o.write(`${this.o.color ? `\x1b[${C[color]}m${s}\x1b[0m` : s}\n`);
  }

  private dump(r: TaskResult, action: string): string {
    const clean = cleanResult(r, this.o.verbosity, action);
    return this.o.oneline ? pyJson(clean) : pyJson(clean, { indent: 4 });
  }

  private generic(host: string, r: TaskResult, caption: string): string {
    if (this.o.oneline) {
      const esc = (s: unknown) =>
        String(s ?? '')
          .replaceAll('\n', '\\n')
          .replaceAll('\r', '\\r');
      const base = `${host} | ${caption} | rc=${r.rc ?? -1} | (stdout) ${esc(r.stdout)}`;
      return r.stderr ? `${base} (stderr) ${esc(r.stderr)}` : base;
    }
    return `${host} | ${caption} | rc=${r.rc ?? -1} >>\n${r.stdout ?? ''}${r.stderr ?? ''}${r.msg ?? ''}`;
  }

  private result(e: EventOf<'host.result'>): void {
    const r = e.result;
    const noJson = NO_JSON.has(e.task.action) && r.module_stderr === undefined;
    for (const w of r.warnings ?? []) this.warn(w);
    switch (e.status) {
      case 'unreachable':
        if (this.o.oneline) this.out(`${e.host} | UNREACHABLE!: ${r.msg ?? ''}`, 'unreachable');
        else this.out(`${e.host} | UNREACHABLE! => ${this.dump(r, e.task.action)}`, 'unreachable');
        return;
      case 'failed':
      case 'ignored':
        if (noJson) this.out(this.generic(e.host, r, 'FAILED'), 'error');
        else this.out(`${e.host} | FAILED! => ${this.dump(r, e.task.action)}`, 'error');
        return;
      case 'skipped':
        this.out(`${e.host} | SKIPPED`, 'skip');
        return;
      default: {
        const state = r.changed ? 'CHANGED' : 'SUCCESS';
        const color = r.changed ? 'changed' : 'ok';
        if (noJson) this.out(this.generic(e.host, r, state), color);
        else this.out(`${e.host} | ${state} => ${this.dump(r, e.task.action)}`, color);
      }
    }
  }

  private warn(message: string): void {
    const s = `[WARNING]: ${message}`;
    (this.o.writeErr ?? this.o.write)(`${this.o.color ? `\x1b[${C.warn}m${s}\x1b[0m` : s}\n`);
  }

  private readonly handlers = {
    'run.start': () => {},
    'play.start': () => {},
    'play.end': () => {},
    'play.no_hosts': (e) => {
      if (e.reason === 'no hosts matched') this.warn('No hosts matched, nothing to do');
    },
    'task.start': () => {},
    'host.result': (e) => this.result(e),
    'host.item': () => {},
    'host.retry': () => {},
    'handler.notify': () => {},
    include: () => {},
    warning: (e) => this.warn(e.message),
    deprecation: (e) => this.warn(e.message),
    interrupted: () => (this.o.writeErr ?? this.o.write)('[ERROR]: User interrupted execution\n'),
    recap: () => {},
  } satisfies EventHandlers;

  emit(e: RunEvent): void {
    (this.handlers[e.type] as (ev: RunEvent) => void)(e);
  }

  async close(): Promise<void> {}
}
