/**
 * `--output FORMAT[:PATH]` sinks. Without a path a machine format replaces the human
 * output on stdout (so `--output json | jq` works); with a path it is written beside it.
 */
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../src/errors.js';
import type { EventSink, HostStats, RunEvent } from '../src/events/types.js';
import { GithubOutput } from '../src/output/github.js';
import { HtmlOutput } from '../src/output/html.js';
import { JsonLinesOutput } from '../src/output/jsonl.js';
import { JUnitOutput } from '../src/output/junit.js';
import type { Redactor } from '../src/output/redact.js';

export const FORMATS = ['json', 'summary', 'junit', 'github', 'html'] as const;

/**
 * The redactors of the runs in this process. Errors that end a command (a missing imported
 * file named through a vault-encrypted extra var, ...) are printed by cli/drover.ts outside
 * any run's sinks: it masks them with these, so no output path skips the redactor.
 */
const processRedactors = new Set<Redactor>();

export function registerRedactor(r: Redactor): void {
  processRedactors.add(r);
}

export function maskForDisplay(text: string): string {
  let out = text;
  for (const r of processRedactors) out = r.redact(out);
  return out;
}

/** A final JSON summary: recap, per-host totals, failures, duration. */
class SummaryOutput implements EventSink {
  private failures: { host: string; task: string; pos?: unknown; msg: unknown }[] = [];
  private recap: { stats: Record<string, HostStats>; durationMs: number } | undefined;
  constructor(
    private readonly path: string | undefined,
    private readonly redactor: Redactor,
  ) {}
  /** Task names as task.start reported them: templated, where host.result has the raw name. */
  private readonly taskNames = new Map<string, string>();
  emit(e: RunEvent): void {
    if (e.type === 'task.start') this.taskNames.set(e.task.id, e.task.name);
    if (e.type === 'host.result' && (e.status === 'failed' || e.status === 'unreachable')) {
      const task = this.taskNames.get(e.task.id) || e.task.name;
      this.failures.push({ host: e.host, task, pos: e.task.pos, msg: e.result.msg });
    }
    if (e.type === 'recap') this.recap = { stats: e.stats, durationMs: e.durationMs };
  }
  async close(): Promise<void> {
    const body = this.redactor.redactValue({ v: 1, ...this.recap, failures: this.failures });
    const text = `${JSON.stringify(body, null, 2)}\n`;
    if (this.path) writeFileSync(this.path, text);
    else process.stdout.write(text);
  }
}

export function buildSinks(specs: string[] | undefined, human: EventSink, redactor: Redactor): EventSink[] {
  const sinks: EventSink[] = [];
  let humanOnStdout = true;
  for (const spec of specs ?? []) {
    const i = spec.indexOf(':');
    const format = i < 0 ? spec : spec.slice(0, i);
    const path = i < 0 ? undefined : spec.slice(i + 1);
    if (!path) humanOnStdout = false;
    if (!(FORMATS as readonly string[]).includes(format))
      throw new UsageError(`unknown output format '${format}'`, `use one of: ${FORMATS.join(', ')}`);
    // Reports go to a directory CI collects (reports/junit.xml): create it, as pytest does,
    // rather than fail at the end of a run because nobody ran mkdir.
    if (path) {
      try {
        mkdirSync(dirname(resolve(path)), { recursive: true });
      } catch (e) {
        throw new UsageError(`cannot create the directory of --output ${spec}: ${(e as Error).message}`);
      }
    }
    switch (format) {
      case 'json':
        sinks.push(new JsonLinesOutput(path ? createWriteStream(path) : process.stdout, redactor));
        break;
      case 'summary':
        sinks.push(new SummaryOutput(path, redactor));
        break;
      case 'junit':
        sinks.push(new JUnitOutput({ path, redactor }));
        break;
      case 'github':
        sinks.push(new GithubOutput({ path, redactor }));
        break;
      case 'html':
        sinks.push(new HtmlOutput({ path, redactor }));
        break;
      default:
        throw new UsageError(`unknown output format '${format}'`, `use one of: ${FORMATS.join(', ')}`);
    }
  }
  if (humanOnStdout) sinks.unshift(human);
  return sinks;
}
