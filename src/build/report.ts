/**
 * What a build reports, as events (like the playbook runner's), and the two formatters:
 * Packer-style prefixed lines (`==> base.debian: ...`, step output indented under it) with a
 * status line per build on a TTY, and JSON lines for `--output json`.
 */
import type { Redactor } from '../output/redact.js';

export type StepStatus = 'start' | 'ok' | 'failed' | 'cached' | 'skipped' | 'retry';

export type BuildEvent =
  | { type: 'build.start'; build: string }
  | { type: 'build.say'; build: string; message: string }
  | { type: 'build.output'; build: string; step: string; stream: 'stdout' | 'stderr'; text: string }
  | {
      type: 'build.step';
      build: string;
      step: string;
      index: number;
      total: number;
      status: StepStatus;
      durationMs?: number;
      message?: string;
    }
  | { type: 'build.artifact'; build: string; kind: string; path: string; digest?: string }
  | {
      type: 'build.end';
      build: string;
      status: 'ok' | 'failed' | 'cancelled';
      durationMs: number;
      error?: string;
    };

export interface BuildReporter {
  emit(e: BuildEvent): void;
  close(): void;
}

interface Status {
  step: string;
  startedAt: number;
  stepAt: number;
}

/** Packer's human output: `==> build.source: message`, step output as `    build.source: line`. */
export class HumanBuildReporter implements BuildReporter {
  private readonly partial = new Map<string, string>();
  private readonly status = new Map<string, Status>();
  private timer: NodeJS.Timeout | undefined;
  private statusShown = false;

  constructor(
    private readonly out: { write(s: string): void; isTTY?: boolean },
    private readonly redactor: Redactor,
    private readonly color = false,
  ) {
    if (out.isTTY) {
      this.timer = setInterval(() => this.drawStatus(), 1000);
      this.timer.unref();
    }
  }

  private paint(code: string, s: string): string {
    return this.color ? `\x1b[${code}m${s}\x1b[0m` : s;
  }

  private write(text: string): void {
    this.clearStatus();
    this.out.write(this.redactor.redact(text));
    this.drawStatus();
  }

  private clearStatus(): void {
    if (this.statusShown) this.out.write('\r\x1b[K');
    this.statusShown = false;
  }

  private drawStatus(): void {
    if (!this.out.isTTY || this.status.size === 0) return;
    const now = Date.now();
    const line = [...this.status.entries()]
      .map(
        ([b, s]) =>
          `[${b} ${Math.round((now - s.startedAt) / 1000)}s] ${s.step} (${Math.round((now - s.stepAt) / 1000)}s)`,
      )
      .join('  ');
    this.clearStatus();
    this.out.write(this.paint('2', line.slice(0, Math.max(20, (process.stdout.columns || 120) - 1))));
    this.statusShown = true;
  }

  emit(e: BuildEvent): void {
    switch (e.type) {
      case 'build.start':
        this.status.set(e.build, { step: 'starting', startedAt: Date.now(), stepAt: Date.now() });
        this.write(`${this.paint('1', `${e.build}:`)} starting build\n`);
        return;
      case 'build.say':
        this.write(`${this.paint('1;32', `==> ${e.build}:`)} ${e.message}\n`);
        return;
      case 'build.output': {
        const key = `${e.build}\0${e.stream}`;
        const text = (this.partial.get(key) ?? '') + e.text;
        const lines = text.split('\n');
        this.partial.set(key, lines.pop() ?? '');
        if (lines.length) this.write(lines.map((l) => `    ${e.build}: ${l}\n`).join(''));
        return;
      }
      case 'build.step': {
        const s = this.status.get(e.build);
        if (e.status === 'start') {
          if (s) {
            s.step = `step ${e.index}/${e.total}: ${e.step}`;
            s.stepAt = Date.now();
          }
          this.write(
            `${this.paint('1;32', `==> ${e.build}:`)} ${e.message ?? `Provisioning with ${e.step}`}\n`,
          );
          return;
        }
        this.flushPartial(e.build);
        const took = e.durationMs !== undefined ? ` (${(e.durationMs / 1000).toFixed(1)} s)` : '';
        const what =
          e.status === 'cached'
            ? `${e.step}: unchanged inputs, skipped (cached)${e.message ? ` ${e.message}` : ''}`
            : e.status === 'skipped'
              ? `${e.step}: skipped${e.message ? ` (${e.message})` : ''}`
              : e.status === 'retry'
                ? `${e.step} failed, retrying${e.message ? `: ${e.message}` : ''}`
                : e.status === 'failed'
                  ? this.paint('1;31', `${e.step} failed${took}${e.message ? `: ${e.message}` : ''}`)
                  : `${e.step} done${took}`;
        this.write(`${this.paint('1;32', `==> ${e.build}:`)} ${what}\n`);
        return;
      }
      case 'build.artifact':
        this.write(
          `${this.paint('1;32', `==> ${e.build}:`)} artifact ${e.kind}: ${e.path}${e.digest ? ` (${e.digest})` : ''}\n`,
        );
        return;
      case 'build.end': {
        this.flushPartial(e.build);
        this.status.delete(e.build);
        const took = `${(e.durationMs / 1000).toFixed(1)} s`;
        if (e.status === 'ok')
          this.write(`${this.paint('1;32', `Build '${e.build}' finished after ${took}.`)}\n`);
        else
          this.write(
            `${this.paint('1;31', `Build '${e.build}' ${e.status === 'cancelled' ? 'was cancelled' : 'errored'} after ${took}${e.error ? `: ${e.error}` : ''}`)}\n`,
          );
        return;
      }
    }
  }

  private flushPartial(build: string): void {
    for (const stream of ['stdout', 'stderr']) {
      const key = `${build}\0${stream}`;
      const rest = this.partial.get(key);
      if (rest) this.write(`    ${build}: ${rest}\n`);
      this.partial.delete(key);
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.clearStatus();
  }
}

/** `--output json`: one event per line, `{"v":1,"type":"build.step",...}`, secrets masked. */
export class JsonBuildReporter implements BuildReporter {
  constructor(
    private readonly out: { write(s: string): void },
    private readonly redactor: Redactor,
  ) {}
  emit(e: BuildEvent): void {
    this.out.write(`${JSON.stringify(this.redactor.redactValue({ v: 1, ...e }))}\n`);
  }
  close(): void {}
}
