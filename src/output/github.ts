/**
 * `--output github[:PATH]`: GitHub Actions workflow commands, so failures show up as
 * annotations on the playbook lines in the PR diff. One `::error` per failed or unreachable
 * host result, one `::warning` per warning or deprecation. Escaping follows the runner's
 * rules (actions/toolkit `command.ts`): data escapes `%`, CR, LF; property values also `:`
 * and `,`, which would otherwise end the property.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import type { SourcePos } from '../errors.js';
import type { EventHandlers, EventOf, EventSink, RunEvent } from '../events/types.js';
import type { Redactor } from './redact.js';

export interface GithubOptions {
  /** File to write; without it the commands go to `write` (default stdout), as they happen. */
  path?: string;
  write?: (s: string) => void;
  redactor: Redactor;
  /** Paths under this directory are reported relative to it (GitHub wants repo-relative). */
  cwd?: string;
}

export function escapeData(s: string): string {
  return s.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}

export function escapeProperty(s: string): string {
  return escapeData(s).replaceAll(':', '%3A').replaceAll(',', '%2C');
}

export class GithubOutput implements EventSink {
  private readonly cwd: string;
  private started = false;
  /** Task names as task.start reported them: templated, where host.result has the raw name. */
  private readonly taskNames = new Map<string, string>();

  constructor(private readonly o: GithubOptions) {
    this.cwd = o.cwd ?? process.cwd();
  }

  private file(f: string): string {
    if (!isAbsolute(f)) return f;
    const rel = relative(this.cwd, f);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : f;
  }

  private command(kind: 'error' | 'warning', message: string, pos?: SourcePos, title?: string): void {
    const r = this.o.redactor;
    const props: string[] = [];
    if (pos) {
      props.push(`file=${escapeProperty(r.redact(this.file(pos.file)))}`);
      props.push(`line=${pos.line}`, `col=${pos.col}`);
    }
    if (title) props.push(`title=${escapeProperty(r.redact(title))}`);
    const line = `::${kind}${props.length ? ` ${props.join(',')}` : ''}::${escapeData(r.redact(message))}\n`;
    if (this.o.path) {
      // Truncate once, then append: a crash mid-run still leaves the annotations so far.
      if (!this.started) writeFileSync(this.o.path, '');
      appendFileSync(this.o.path, line);
    } else (this.o.write ?? ((s: string) => process.stdout.write(s)))(line);
    this.started = true;
  }

  private result(e: EventOf<'host.result'>): void {
    if (e.status !== 'failed' && e.status !== 'unreachable') return;
    const who = e.delegatedTo ? `${e.host} -> ${e.delegatedTo}` : e.host;
    const msg = e.result.msg ?? (e.status === 'unreachable' ? 'host unreachable' : 'task failed');
    const prefix = e.status === 'unreachable' ? `${who}: UNREACHABLE: ` : `${who}: `;
    const name = this.taskNames.get(e.task.id) || e.task.name || e.task.action;
    this.command('error', `${prefix}${String(msg)}`, e.task.pos, name);
  }

  private readonly handlers = {
    'run.start': () => {},
    'play.start': () => {},
    'play.end': () => {},
    'play.no_hosts': () => {},
    'task.start': (e) => {
      this.taskNames.set(e.task.id, e.task.name);
    },
    'host.result': (e) => this.result(e),
    'host.item': () => {},
    'host.retry': () => {},
    'handler.notify': () => {},
    include: () => {},
    warning: (e) => this.command('warning', e.message, e.pos),
    deprecation: (e) => this.command('warning', e.message, e.pos, 'deprecation'),
    interrupted: () => {},
    recap: () => {},
  } satisfies EventHandlers;

  emit(e: RunEvent): void {
    (this.handlers[e.type] as (ev: RunEvent) => void)(e);
  }

  async close(): Promise<void> {
    // An empty report file still says "ran, nothing to annotate" rather than "never ran".
    if (this.o.path && !this.started) writeFileSync(this.o.path, '');
  }
}
