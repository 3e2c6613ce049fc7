/**
 * Ansible's default stdout callback, event by event: banners padded with stars, one line
 * per host result, `=> {json}` as the callback prints it, and the PLAY RECAP table.
 */
import type { TaskResult } from '../../modules/types.js';
import type { EventHandlers, EventOf, EventSink, HostStats, RunEvent } from '../events/types.js';
import { pyJson } from './pyjson.js';

/** Actions Ansible reports with an `included:` line instead of `ok:`. */
const INCLUDE_ACTIONS = new Set(['include_tasks', 'include', 'include_role']);

export interface HumanOptions {
  write: (text: string) => void;
  writeErr?: (text: string) => void;
  color: boolean;
  verbosity: number;
  columns?: number;
  /** Show skipped hosts (display_skipped_hosts). */
  showSkipped?: boolean;
  /** Show ok hosts (display_ok_hosts). */
  showOk?: boolean;
}

const COLORS = {
  ok: '0;32',
  changed: '0;33',
  error: '0;31',
  skip: '0;36',
  unreachable: '1;31',
  warn: '1;35',
  deprecate: '1;35',
  verbose: '0;34',
  highlight: '1;37',
  rescued: '0;35',
  ignored: '0;35',
} as const;

type Color = keyof typeof COLORS;

/** Keys Ansible's callback strips from results before printing them. */
const INTERNAL = /^_ansible_/;

const DEBUG_ACTIONS = new Set(['debug', 'ansible.builtin.debug', 'ansible.legacy.debug']);
const DEBUG_ALLOWED = new Set(['msg', 'exception', 'warnings', 'deprecations']);
const DEBUG_HIDDEN = new Set(['changed', 'failed', 'skipped', 'invocation', 'skip_reason']);

/**
 * What Ansible's callbacks print of a result: TaskResult.clean_copy drops `failed` and
 * `skipped` (the status is in the line already) and internal keys; debug shows only `msg`
 * (or the variable); invocation and diff only at -vvv.
 */
export function cleanResult(r: TaskResult, verbosity: number, action?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const debug = action !== undefined && DEBUG_ACTIONS.has(action);
  const hasMsg = 'msg' in r;
  for (const [k, v] of Object.entries(r)) {
    if (INTERNAL.test(k) || k.startsWith('_drover') || v === undefined) continue;
    if (k === 'failed' || k === 'skipped') continue;
    if (k === 'invocation' && (verbosity < 3 || debug)) continue;
    if (k === 'diff' && verbosity < 3) continue;
    if (k === 'exception') continue;
    if (debug && hasMsg && !DEBUG_ALLOWED.has(k)) continue;
    if (debug && !hasMsg && DEBUG_HIDDEN.has(k)) continue;
    out[k] = v;
  }
  return out;
}

export class HumanOutput implements EventSink {
  private readonly o: Required<Omit<HumanOptions, 'columns'>> & { columns: number };
  private pendingBanner: string | undefined;

  constructor(opts: HumanOptions) {
    this.o = {
      writeErr: opts.writeErr ?? opts.write,
      showSkipped: true,
      showOk: true,
      columns: 79,
      ...opts,
    } as Required<Omit<HumanOptions, 'columns'>> & { columns: number };
  }

  private c(color: Color, s: string): string {
    return this.o.color ? `\x1b[${COLORS[color]}m${s}\x1b[0m` : s;
  }

  private line(s: string, color?: Color): void {
    this.o.write(`${color ? this.c(color, s) : s}\n`);
  }

  private banner(msg: string): void {
    const stars = '*'.repeat(Math.max(3, this.o.columns - msg.length));
    this.o.write(`\n${msg} ${stars}\n`);
  }

  /** Task banners print lazily, so tasks every host skips silently (when hidden) leave no header. */
  private flushBanner(): void {
    if (this.pendingBanner !== undefined) {
      this.banner(this.pendingBanner);
      this.pendingBanner = undefined;
    }
  }

  private dump(r: TaskResult, action?: string): string {
    const verboseAlways = r._ansible_verbose_always === true;
    const indent = this.o.verbosity > 2 || verboseAlways ? 4 : undefined;
    return pyJson(cleanResult(r, this.o.verbosity, action), indent === undefined ? {} : { indent });
  }

  private diff(r: TaskResult): void {
    const diffs = r.diff === undefined ? [] : Array.isArray(r.diff) ? r.diff : [r.diff];
    for (const d of diffs) {
      const text = renderDiff(d);
      if (text) this.o.write(this.o.color ? colorDiff(text) : text);
    }
  }

  private readonly handlers = {
    'run.start': () => {},
    'play.start': (e) => {
      this.banner(`PLAY [${e.play.name}]`);
    },
    'task.start': (e) => {
      const prefix = e.task.handler ? 'RUNNING HANDLER' : 'TASK';
      const name = e.task.role ? `${e.task.role} : ${e.task.name}` : e.task.name;
      this.pendingBanner = `${prefix} [${name}]`;
      this.flushBanner();
    },
    'host.result': (e) => {
      // Loop tasks were reported item by item; Ansible's callback prints no summary line.
      // An include's ok is its `included:` line.
      // A loop whose items were all skipped ends with a plain `skipping: [host]`, as in Ansible.
      if (e.loop && e.status === 'skipped') this.result(e);
      else if (!e.loop && !(e.status === 'ok' && INCLUDE_ACTIONS.has(e.task.action))) this.result(e);
    },
    'host.item': (e) => this.result({ ...e, type: 'host.result', durationMs: 0 }),
    include: (e) => {
      this.flushBanner();
      const item = e.itemLabel === undefined ? '' : ` => (item=${e.itemLabel})`;
      this.line(`included: ${e.file} for ${e.hosts.join(', ')}${item}`);
    },
    'play.no_hosts': (e) => {
      if (e.reason === 'no hosts matched') this.line('skipping: no hosts matched', 'skip');
      else this.banner('NO MORE HOSTS LEFT');
    },
    'host.retry': (e) => {
      this.flushBanner();
      const left = e.retries - e.attempt;
      this.line(`FAILED - RETRYING: [${e.host}]: ${e.task.name} (${left} retries left).`, 'error');
    },
    'handler.notify': () => {},
    'play.end': () => {},
    warning: (e) => {
      this.o.writeErr(`${this.c('warn', `[WARNING]: ${e.message}`)}\n`);
    },
    deprecation: (e) => {
      this.o.writeErr(`${this.c('deprecate', `[DEPRECATION WARNING]: ${e.message}`)}\n`);
    },
    interrupted: () => {
      this.o.writeErr(`${this.c('error', '[ERROR]: User interrupted execution')}\n`);
    },
    recap: (e) => this.recap(e.stats),
  } satisfies EventHandlers;

  emit(e: RunEvent): void {
    (this.handlers[e.type] as (ev: RunEvent) => void)(e);
  }

  private hostLabel(e: EventOf<'host.result'>): string {
    return e.delegatedTo && e.delegatedTo !== e.host ? `[${e.host} -> ${e.delegatedTo}]` : `[${e.host}]`;
  }

  private result(e: EventOf<'host.result'>): void {
    const r = e.result;
    const host = this.hostLabel(e);
    const item = e.itemLabel !== undefined ? ` => (item=${e.itemLabel})` : '';
    const itemFail = e.itemLabel !== undefined ? ` (item=${e.itemLabel})` : '';
    const verbose = this.o.verbosity > 0 || r._ansible_verbose_always === true;
    switch (e.status) {
      case 'skipped': {
        if (!this.o.showSkipped) return;
        this.flushBanner();
        let msg = `skipping: ${host}${item}`;
        if (verbose && r._ansible_verbose_override !== true) msg += ` => ${this.dump(r, e.task.action)}`;
        this.line(msg, 'skip');
        return;
      }
      case 'unreachable': {
        this.flushBanner();
        this.line(`fatal: ${host}: UNREACHABLE! => ${this.dump(r, e.task.action)}`, 'unreachable');
        if (r._ansible_ignore_unreachable) this.line('...ignoring', 'skip');
        return;
      }
      case 'failed':
      case 'ignored': {
        this.flushBanner();
        if (this.o.verbosity > 0 || r.diff) this.diff(r);
        const stderr =
          typeof r.stderr === 'string' && r.stderr && this.o.verbosity < 1 ? r.stderr : undefined;
        if (stderr && r.exception)
          this.line(
            `An exception occurred during task execution. To see the full traceback, use -vvv. The error was: ${stderr}`,
            'error',
          );
        if (e.itemLabel !== undefined)
          this.line(`failed: ${host}${itemFail} => ${this.dump(r, e.task.action)}`, 'error');
        else this.line(`fatal: ${host}: FAILED! => ${this.dump(r, e.task.action)}`, 'error');
        if (e.status === 'ignored') this.line('...ignoring', 'skip');
        return;
      }
      case 'rescued':
      case 'ok':
      case 'changed': {
        if (e.status !== 'changed' && !this.o.showOk) return;
        this.flushBanner();
        this.diff(r);
        const word = e.status === 'changed' ? 'changed' : 'ok';
        let msg = `${word}: ${host}${item}`;
        if (verbose && r._ansible_verbose_override !== true) msg += ` => ${this.dump(r, e.task.action)}`;
        this.line(msg, e.status === 'changed' ? 'changed' : 'ok');
        return;
      }
    }
  }

  private recap(stats: Record<string, HostStats>): void {
    this.banner('PLAY RECAP');
    for (const host of Object.keys(stats).sort()) {
      const t = stats[host]!;
      const hostColor: Color | undefined =
        t.failed > 0 || t.unreachable > 0 ? 'error' : t.changed > 0 ? 'changed' : 'ok';
      const col = (lead: string, n: number, color: Color) => {
        const s = `${lead}=${String(n).padEnd(4)}`;
        return n !== 0 ? this.c(color, s) : s;
      };
      const name = this.o.color ? this.c(hostColor, host).padEnd(26 + 11) : host.padEnd(26);
      this.o.write(
        `${name} : ${col('ok', t.ok, 'ok')} ${col('changed', t.changed, 'changed')} ${col('unreachable', t.unreachable, 'unreachable')} ${col('failed', t.failed, 'error')} ${col('skipped', t.skipped, 'skip')} ${col('rescued', t.rescued, 'rescued')} ${col('ignored', t.ignored, 'ignored')}\n`,
      );
    }
    this.o.write('\n');
  }

  async close(): Promise<void> {}
}

/** A unified diff of before/after text, as Ansible's callback prints it under --diff. */
export function renderDiff(d: {
  before?: string;
  after?: string;
  before_header?: string;
  after_header?: string;
  prepared?: string;
}): string {
  if (d.prepared) return `${d.prepared}\n`;
  if (d.before === undefined && d.after === undefined) return '';
  const before = d.before ?? '';
  const after = d.after ?? '';
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  const hunks = unifiedHunks(a, b, 3);
  let out = `--- before${d.before_header ? `: ${d.before_header}` : ''}\n+++ after${d.after_header ? `: ${d.after_header}` : ''}\n`;
  for (const h of hunks) out += h;
  return `${out}\n`;
}

function splitLines(s: string): string[] {
  if (s === '') return [];
  const parts = s.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  // As Ansible's callback: a last line without a newline carries the marker, so it differs
  // from the same text with one (`-gamma` / `\ No newline...` / `+gamma` / `+delta`).
  else parts[parts.length - 1] += '\n\\ No newline at end of file';
  return parts;
}

/** Myers-free LCS diff: inputs are config files, small enough for O(n*m) on the controller. */
function unifiedHunks(a: string[], b: string[], context: number): string[] {
  const n = a.length;
  const m = b.length;
  if (n * m > 4_000_000) {
    return [`@@ -1,${n} +1,${m} @@\n${a.map((l) => `-${l}\n`).join('')}${b.map((l) => `+${l}\n`).join('')}`];
  }
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  type Op = { t: ' ' | '-' | '+'; s: string; ai: number; bi: number };
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) ops.push({ t: ' ', s: a[i]!, ai: i++, bi: j++ });
    // Deletions first on a tie, as Python's difflib prints them.
    else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!))
      ops.push({ t: '-', s: a[i]!, ai: i++, bi: j });
    else ops.push({ t: '+', s: b[j]!, ai: i, bi: j++ });
  }
  const hunks: string[] = [];
  let k = 0;
  while (k < ops.length) {
    while (k < ops.length && ops[k]!.t === ' ') k++;
    if (k >= ops.length) break;
    let start = Math.max(0, k - context);
    let end = k;
    while (end < ops.length) {
      if (ops[end]!.t !== ' ') {
        end++;
        continue;
      }
      let run = end;
      while (run < ops.length && ops[run]!.t === ' ') run++;
      if (run - end > 2 * context || run >= ops.length) {
        end = Math.min(run, end + context);
        break;
      }
      end = run;
    }
    const slice = ops.slice(start, end);
    const aStart = slice[0]!.ai;
    const bStart = slice[0]!.bi;
    const aLen = slice.filter((o) => o.t !== '+').length;
    const bLen = slice.filter((o) => o.t !== '-').length;
    const range = (s: number, l: number) => (l === 1 ? `${s + 1}` : `${l === 0 ? s : s + 1},${l}`);
    hunks.push(
      `@@ -${range(aStart, aLen)} +${range(bStart, bLen)} @@\n${slice.map((o) => `${o.t}${o.s}\n`).join('')}`,
    );
    k = end;
    start = end;
  }
  return hunks;
}

function colorDiff(text: string): string {
  return text
    .split('\n')
    .map((l) =>
      l.startsWith('+') && !l.startsWith('+++')
        ? `\x1b[0;32m${l}\x1b[0m`
        : l.startsWith('-') && !l.startsWith('---')
          ? `\x1b[0;31m${l}\x1b[0m`
          : l.startsWith('@@')
            ? `\x1b[0;36m${l}\x1b[0m`
            : l,
    )
    .join('\n');
}
