/**
 * The live status line of a run on a terminal: while a task has been running for a while,
 * one line at the bottom says how many of its hosts are done and which are still running
 * (longest first). It is redrawn in place and wiped before any other output, so the
 * Ansible-shaped log above it stays clean. The CLI creates it only when stdout is a TTY:
 * piped output never carries it.
 */
import type { EventSink, RunEvent } from '../events/types.js';

export interface StatusLineOptions {
  /** Writes to the terminal (the same stream the human output goes to). */
  write: (s: string) => void;
  /** Terminal width; the line is cut to fit. */
  columns?: () => number;
  now?: () => number;
  /** A task shows the line once it has run this long (default 2 s). */
  afterMs?: number;
  /** Redraw period (default 1 s); 0 disables the timer (tests call tick()). */
  everyMs?: number;
}

interface Running {
  name: string;
  hosts: string[];
  done: Set<string>;
  started: number;
}

export class StatusLine implements EventSink {
  private task: Running | undefined;
  private shown = false;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly now: () => number;
  private readonly afterMs: number;

  constructor(private readonly o: StatusLineOptions) {
    this.now = o.now ?? Date.now;
    this.afterMs = o.afterMs ?? 2000;
    const every = o.everyMs ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => this.tick(), every);
      this.timer.unref();
    }
  }

  /** A write function for the other output: wipes the status line before the text goes out. */
  wrap(write: (s: string) => void): (s: string) => void {
    return (s) => {
      this.clear();
      write(s);
    };
  }

  emit(e: RunEvent): void {
    switch (e.type) {
      case 'task.start':
        this.clear();
        this.task = { name: e.task.name, hosts: [...e.hosts], done: new Set(), started: this.now() };
        return;
      case 'host.result':
        this.task?.done.add(e.host);
        return;
      case 'play.end':
      case 'recap':
      case 'interrupted':
        this.clear();
        this.task = undefined;
        return;
      default:
        return;
    }
  }

  /** The line for the current moment, or undefined when there is nothing worth showing. */
  text(): string | undefined {
    const t = this.task;
    if (!t) return undefined;
    const elapsed = this.now() - t.started;
    const pending = t.hosts.filter((h) => !t.done.has(h));
    if (elapsed < this.afterMs || pending.length === 0) return undefined;
    const secs = Math.floor(elapsed / 1000);
    const shown = pending.slice(0, 3).map((h) => `${h} ${secs}s`);
    const more = pending.length > 3 ? ` +${pending.length - 3} more` : '';
    const line = `[${t.done.size}/${t.hosts.length} hosts done] ${t.name}: waiting on ${shown.join(', ')}${more}`;
    const width = this.o.columns?.() ?? 80;
    return line.length >= width ? `${line.slice(0, Math.max(0, width - 2))}…` : line;
  }

  tick(): void {
    const line = this.text();
    if (line === undefined) {
      this.clear();
      return;
    }
    this.o.write(`\r\x1b[K${line}`);
    this.shown = true;
  }

  private clear(): void {
    if (!this.shown) return;
    this.o.write('\r\x1b[K');
    this.shown = false;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }
}
