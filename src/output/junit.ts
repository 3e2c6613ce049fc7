/**
 * `--output junit[:PATH]`: a JUnit XML report, one <testsuite> per play and one <testcase>
 * per task and host, in the shape the common JUnit XSD (Jenkins, GitLab, GitHub test
 * reporters) accepts. Written whole on close(), because suite totals head each suite.
 * Everything passes through the redactor again: formatter-added text must not leak either.
 */
import { writeFileSync } from 'node:fs';
import type { EventHandlers, EventOf, EventSink, PlayRef, RunEvent } from '../events/types.js';
import type { Redactor } from './redact.js';

export interface JUnitOptions {
  /** File to write; without it the report goes to `write` (default stdout). */
  path?: string;
  write?: (s: string) => void;
  redactor: Redactor;
}

interface Case {
  classname: string;
  name: string;
  file?: string;
  line?: number;
  seconds: number;
  kind: 'pass' | 'failure' | 'error' | 'skipped';
  message?: string;
  body?: string;
}

interface Suite {
  name: string;
  file?: string;
  start: number;
  end?: number;
  cases: Case[];
}

/**
 * XML 1.0 allows only tab, LF, CR and the ranges below; anything else (NUL, ESC from colored
 * command output, lone surrogates) makes the whole report unparsable, so it is dropped.
 */
const FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlText(s: string): string {
  return s.replace(FORBIDDEN, '').replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** Attribute values also escape quotes and whitespace, which parsers would otherwise normalize. */
export function xmlAttr(s: string): string {
  return xmlText(s)
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;')
    .replaceAll('\t', '&#9;')
    .replaceAll('\n', '&#10;')
    .replaceAll('\r', '&#13;');
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

export class JUnitOutput implements EventSink {
  private readonly suites: Suite[] = [];
  private current: Suite | undefined;
  /** Task names as task.start reported them: templated, where host.result has the raw name. */
  private readonly taskNames = new Map<string, string>();

  constructor(private readonly o: JUnitOptions) {}

  private open(play: PlayRef, time: number): void {
    this.current = { name: play.name || play.id, file: play.pos?.file, start: time, cases: [] };
    this.suites.push(this.current);
  }

  private result(e: EventOf<'host.result'>): void {
    // Ad-hoc runs have no play: their results still need a suite to live in.
    if (!this.current) this.open({ id: 'drover', name: 'drover' }, e.time - e.durationMs);
    const suite = this.current as Suite;
    const r = this.o.redactor;
    const taskName = this.taskNames.get(e.task.id) || e.task.name || e.task.action;
    const c: Case = {
      classname: suite.name,
      name: `${taskName} [${e.delegatedTo ? `${e.host} -> ${e.delegatedTo}` : e.host}]`,
      file: e.task.pos?.file,
      line: e.task.pos?.line,
      seconds: e.durationMs,
      kind: 'pass',
    };
    if (e.status === 'failed' || e.status === 'unreachable') {
      c.kind = e.status === 'failed' ? 'failure' : 'error';
      c.message = r.redact(String(e.result.msg ?? e.status));
      c.body = JSON.stringify(r.redactValue(e.result), null, 2);
    } else if (e.status === 'skipped') {
      c.kind = 'skipped';
      const reason = e.result.skip_reason;
      if (typeof reason === 'string') c.message = r.redact(reason);
    }
    suite.cases.push(c);
  }

  private readonly handlers = {
    'run.start': () => {},
    'play.start': (e) => this.open(e.play, e.time),
    'play.end': (e) => {
      if (this.current) this.current.end = e.time;
      this.current = undefined;
    },
    'play.no_hosts': () => {},
    'task.start': (e) => {
      this.taskNames.set(e.task.id, e.task.name);
    },
    'host.result': (e) => this.result(e),
    'host.item': () => {},
    'host.retry': () => {},
    'handler.notify': () => {},
    include: () => {},
    warning: () => {},
    deprecation: () => {},
    interrupted: () => {},
    recap: () => {},
  } satisfies EventHandlers;

  emit(e: RunEvent): void {
    (this.handlers[e.type] as (ev: RunEvent) => void)(e);
  }

  /** The report as XML text (what close() writes). */
  render(): string {
    const r = this.o.redactor;
    const a = (s: string) => xmlAttr(r.redact(s));
    const count = (cs: Case[], k: Case['kind']) => cs.filter((c) => c.kind === k).length;
    const all = this.suites.flatMap((s) => s.cases);
    const suiteMs = (s: Suite) =>
      s.end !== undefined ? s.end - s.start : s.cases.reduce((t, c) => t + c.seconds, 0);
    const totalMs = this.suites.reduce((t, s) => t + suiteMs(s), 0);
    const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
    out.push(
      `<testsuites name="drover" tests="${all.length}" failures="${count(all, 'failure')}" errors="${count(all, 'error')}" time="${seconds(totalMs)}">`,
    );
    for (const s of this.suites) {
      const file = s.file ? ` file="${a(s.file)}"` : '';
      out.push(
        `  <testsuite name="${a(s.name)}" tests="${s.cases.length}" failures="${count(s.cases, 'failure')}" errors="${count(s.cases, 'error')}" skipped="${count(s.cases, 'skipped')}" time="${seconds(suiteMs(s))}"${file}>`,
      );
      for (const c of s.cases) {
        const loc = `${c.file ? ` file="${a(c.file)}"` : ''}${c.line !== undefined ? ` line="${c.line}"` : ''}`;
        const head = `    <testcase classname="${a(c.classname)}" name="${a(c.name)}"${loc} time="${seconds(c.seconds)}"`;
        const msg = c.message !== undefined ? ` message="${a(c.message)}"` : '';
        if (c.kind === 'pass') out.push(`${head}/>`);
        else if (c.kind === 'skipped') out.push(`${head}>`, `      <skipped${msg}/>`, '    </testcase>');
        else
          out.push(
            `${head}>`,
            `      <${c.kind}${msg}>${xmlText(r.redact(c.body ?? ''))}</${c.kind}>`,
            '    </testcase>',
          );
      }
      out.push('  </testsuite>');
    }
    out.push('</testsuites>', '');
    return out.join('\n');
  }

  async close(): Promise<void> {
    const text = this.render();
    if (this.o.path) writeFileSync(this.o.path, text);
    else (this.o.write ?? ((s: string) => process.stdout.write(s)))(text);
  }
}
