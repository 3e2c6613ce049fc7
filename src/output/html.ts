/**
 * `--output html:PATH`: one self-contained HTML file a person opens from a CI artifact:
 * the recap, a per-host timeline of tasks (one bar per task, its length the task's duration),
 * the diffs, the failures with their messages and output, warnings, and every result.
 *
 * The page is rendered here, whole, as static HTML with inline CSS: it needs no network and
 * shows everything with scripts disabled (some artifact viewers block them). The inline script
 * only adds filtering of the results table by status and a jump from a bar to its result row.
 * Every piece of text passes through the redactor before it is escaped, as in every other
 * format: the runner masked the events already, this catches what the formatter adds.
 */
import { writeFileSync } from 'node:fs';
import type { FileDiff, TaskResult } from '../../modules/types.js';
import type { SourcePos } from '../errors.js';
import type {
  EventHandlers,
  EventOf,
  EventSink,
  HostStats,
  HostStatus,
  RunEvent,
  TaskRef,
} from '../events/types.js';
import { emptyStats } from '../events/types.js';
import { renderDiff } from './human.js';
import type { Redactor } from './redact.js';

export interface HtmlOptions {
  /** File to write; without it the page goes to `write` (default stdout). */
  path?: string;
  write?: (s: string) => void;
  redactor: Redactor;
  /** Page title; default "drover report". */
  title?: string;
  /** Clock for the "generated" line (tests pin it). */
  now?: () => number;
}

/** Bar and badge colours per status; exported so the screenshot test looks for the same ones. */
export const STATUS_COLORS: Record<HostStatus, string> = {
  ok: '#2da44e',
  changed: '#d4a72c',
  failed: '#cf222e',
  unreachable: '#8250df',
  skipped: '#8c959f',
  ignored: '#e16f24',
  rescued: '#1f6feb',
};

/** Rows in the "Slowest" table. */
const SLOWEST = 10;

const STATUS_ORDER: HostStatus[] = [
  'ok',
  'changed',
  'failed',
  'unreachable',
  'skipped',
  'ignored',
  'rescued',
];

interface Item {
  label: string;
  status: HostStatus;
}

interface Row {
  n: number;
  play: number;
  host: string;
  task: TaskRef;
  status: HostStatus;
  start: number;
  end: number;
  durationMs: number;
  result: TaskResult;
  delegatedTo?: string;
  items: Item[];
}

interface Play {
  name: string;
  pos?: SourcePos;
  hosts: string[];
  start: number;
  end?: number;
  noHosts?: string;
}

interface Notice {
  kind: 'warning' | 'deprecation';
  message: string;
  pos?: SourcePos;
}

export function htmlEscape(s: string): string {
  return s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function secs(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  return s < 10
    ? `${s.toFixed(2)} s`
    : s < 600
      ? `${s.toFixed(1)} s`
      : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function where(pos: SourcePos | undefined): string {
  return pos ? `${pos.file}:${pos.line}:${pos.col}` : '';
}

export class HtmlOutput implements EventSink {
  private command = 'playbook';
  private check = false;
  private diff = false;
  private runStart: number | undefined;
  private readonly plays: Play[] = [];
  private readonly rows: Row[] = [];
  /** Loop items reported before their aggregate host.result, keyed by host and task id. */
  private readonly pendingItems = new Map<string, Item[]>();
  private readonly notices: Notice[] = [];
  private stats: Record<string, HostStats> | undefined;
  private durationMs: number | undefined;
  private endTime: number | undefined;
  private interrupted = false;
  /** Task names as task.start reported them: templated (`deploy {{ app }}` → `deploy web`). */
  private readonly taskNames = new Map<string, string>();

  constructor(private readonly o: HtmlOptions) {}

  private readonly handlers = {
    'run.start': (e) => {
      this.command = e.command;
      this.check = e.check;
      this.diff = e.diff;
      this.runStart = e.time;
    },
    'play.start': (e) => {
      this.plays.push({ name: e.play.name || e.play.id, pos: e.play.pos, hosts: e.hosts, start: e.time });
    },
    'play.end': (e) => {
      const p = this.plays.at(-1);
      if (p) p.end = e.time;
    },
    'play.no_hosts': (e) => {
      const p = this.plays.at(-1);
      if (p) p.noHosts = e.reason;
      else
        this.plays.push({ name: e.play.name, pos: e.play.pos, hosts: [], start: e.time, noHosts: e.reason });
    },
    'task.start': (e) => {
      this.taskNames.set(e.task.id, e.task.name);
    },
    'host.result': (e) => this.result(e),
    'host.item': (e) => {
      const key = `${e.host}\0${e.task.id}`;
      const items = this.pendingItems.get(key) ?? [];
      items.push({ label: e.itemLabel, status: e.status });
      this.pendingItems.set(key, items);
    },
    'host.retry': () => {},
    'handler.notify': () => {},
    include: () => {},
    warning: (e) => this.notices.push({ kind: 'warning', message: e.message, pos: e.pos }),
    deprecation: (e) => this.notices.push({ kind: 'deprecation', message: e.message, pos: e.pos }),
    interrupted: () => {
      this.interrupted = true;
    },
    recap: (e) => {
      this.stats = e.stats;
      this.durationMs = e.durationMs;
      this.endTime = e.time;
    },
  } satisfies EventHandlers;

  private result(e: EventOf<'host.result'>): void {
    // Ad-hoc runs have no play: their results still need one to live in.
    if (this.plays.length === 0) this.plays.push({ name: e.task.name || 'drover', hosts: [], start: e.time });
    const key = `${e.host}\0${e.task.id}`;
    const items = this.pendingItems.get(key) ?? [];
    this.pendingItems.delete(key);
    const row: Row = {
      n: this.rows.length,
      play: this.plays.length - 1,
      host: e.host,
      task: e.task,
      status: e.status,
      start: e.time - e.durationMs,
      end: e.time,
      durationMs: e.durationMs,
      result: e.result,
      items,
    };
    if (e.delegatedTo) row.delegatedTo = e.delegatedTo;
    this.rows.push(row);
  }

  emit(e: RunEvent): void {
    (this.handlers[e.type] as (ev: RunEvent) => void)(e);
  }

  /** Redacts, then escapes: the only way text gets into the page. */
  private t(s: unknown): string {
    return htmlEscape(this.o.redactor.redact(typeof s === 'string' ? s : String(s)));
  }

  private taskName(r: Row): string {
    const name = this.taskNames.get(r.task.id) || r.task.name || r.task.action;
    return r.task.role ? `${r.task.role} : ${name}` : name;
  }

  private who(r: Row): string {
    return r.delegatedTo ? `${r.host} -> ${r.delegatedTo}` : r.host;
  }

  private hostStats(): Record<string, HostStats> {
    if (this.stats && Object.keys(this.stats).length) return this.stats;
    const out: Record<string, HostStats> = {};
    for (const r of this.rows) {
      const s = out[r.host] ?? emptyStats();
      out[r.host] = s;
      if (r.status === 'changed') {
        s.changed++;
        s.ok++;
      } else s[r.status]++;
    }
    return out;
  }

  private hosts(): string[] {
    const seen = new Set<string>();
    for (const p of this.plays) for (const h of p.hosts) seen.add(h);
    for (const r of this.rows) seen.add(r.host);
    for (const h of Object.keys(this.stats ?? {})) seen.add(h);
    return [...seen];
  }

  private outcome(stats: Record<string, HostStats>): { label: string; cls: string } {
    const all = Object.values(stats);
    if (this.interrupted) return { label: 'interrupted', cls: 'failed' };
    if (all.some((s) => s.unreachable > 0)) return { label: 'unreachable hosts', cls: 'unreachable' };
    if (all.some((s) => s.failed > 0)) return { label: 'failed', cls: 'failed' };
    if (all.some((s) => s.changed > 0))
      return { label: this.check ? 'changes would be made' : 'changed', cls: 'changed' };
    return { label: 'no changes', cls: 'ok' };
  }

  private recapSection(stats: Record<string, HostStats>): string {
    const cols: (keyof HostStats)[] = [
      'ok',
      'changed',
      'unreachable',
      'failed',
      'skipped',
      'rescued',
      'ignored',
    ];
    const rows = Object.entries(stats).map(([h, s]) => {
      const cls = s.unreachable ? 'unreachable' : s.failed ? 'failed' : s.changed ? 'changed' : 'ok';
      return `<tr class="st-${cls}"><th scope="row"><span class="dot"></span>${this.t(h)}</th>${cols
        .map((c) => `<td class="${s[c] ? `n-${c}` : 'zero'}">${s[c]}</td>`)
        .join('')}</tr>`;
    });
    return `<section id="recap"><h2>Recap</h2><table class="recap"><thead><tr><th>host</th>${cols
      .map((c) => `<th>${c}</th>`)
      .join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
  }

  private timelineSection(): string {
    const hosts = this.hosts();
    // Loops, not Math.min(...spread): a big run has more results than a call has arguments.
    let t0 = this.runStart ?? Number.POSITIVE_INFINITY;
    let t1 = this.endTime ?? 0;
    for (const r of this.rows) {
      t0 = Math.min(t0, r.start);
      t1 = Math.max(t1, r.end);
    }
    for (const p of this.plays) {
      t0 = Math.min(t0, p.start);
      t1 = Math.max(t1, p.end ?? 0);
    }
    const span = Number.isFinite(t0) && t1 > t0 ? t1 - t0 : 1;
    const pct = (ms: number) => `${((ms / span) * 100).toFixed(3)}%`;
    const ticks: string[] = [];
    for (let i = 0; i <= 4; i++) {
      ticks.push(`<span class="tick" style="left:${i * 25}%">${secs((span * i) / 4)}</span>`);
    }
    const byHost = new Map<string, Row[]>();
    for (const r of this.rows) {
      const list = byHost.get(r.host) ?? [];
      list.push(r);
      byHost.set(r.host, list);
    }
    const lanes = hosts.map((h) => {
      const bars = (byHost.get(h) ?? []).map((r) => {
        const title = `${this.taskName(r)} [${this.who(r)}]: ${r.status}, ${secs(r.durationMs)}`;
        return `<a class="bar st-${r.status}" href="#r${r.n}" style="left:${pct(r.start - t0)};width:${pct(r.durationMs)}" title="${this.t(title)}" data-status="${r.status}" data-ms="${r.durationMs}"></a>`;
      });
      return `<div class="lane"><div class="lane-host" title="${this.t(h)}">${this.t(h)}</div><div class="track">${bars.join('')}</div></div>`;
    });
    const legend = STATUS_ORDER.map(
      (s) => `<span class="legend st-${s}"><span class="dot"></span>${s}</span>`,
    ).join('');
    return `<section id="timeline"><h2>Timeline</h2><div class="legend-row">${legend}</div><div class="timeline"><div class="lane axis"><div class="lane-host"></div><div class="track">${ticks.join('')}</div></div>${lanes.join('')}</div></section>`;
  }

  private pre(label: string, text: unknown): string {
    if (text === undefined || text === null || text === '') return '';
    return `<div class="out"><div class="out-label">${label}</div><pre>${this.t(text)}</pre></div>`;
  }

  /** The tasks that took longest on some host: where a run's time went. */
  private slowestSection(): string {
    if (this.rows.length < 2) return '';
    const top = [...this.rows].sort((a, b) => b.durationMs - a.durationMs).slice(0, SLOWEST);
    const rows = top.map(
      (r) =>
        `<tr><td class="num">${secs(r.durationMs)}</td><td><a href="#r${r.n}">${this.t(this.taskName(r))}</a></td><td>${this.t(this.who(r))}</td><td><span class="badge st-${r.status}">${r.status}</span></td></tr>`,
    );
    return `<section id="slowest"><h2>Slowest</h2><table class="results"><thead><tr><th>duration</th><th>task</th><th>host</th><th>status</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
  }

  private failuresSection(): string {
    const failed = this.rows.filter((r) => r.status === 'failed' || r.status === 'unreachable');
    if (failed.length === 0) return '';
    const cards = failed.map((r) => {
      const res = r.result;
      const msg = res.msg ?? (r.status === 'unreachable' ? 'host unreachable' : 'task failed');
      const failedItems = r.items.filter((i) => i.status === 'failed' || i.status === 'unreachable');
      const details = JSON.stringify(this.o.redactor.redactValue(res), null, 2);
      return `<article class="card st-${r.status}" id="f${r.n}"><h3><span class="badge st-${r.status}">${r.status}</span> ${this.t(this.taskName(r))} <span class="host">[${this.t(this.who(r))}]</span></h3>${
        r.task.pos ? `<div class="pos">${this.t(where(r.task.pos))}</div>` : ''
      }<pre class="msg">${this.t(msg)}</pre>${res.rc !== undefined ? `<div class="rc">rc: ${this.t(res.rc)}</div>` : ''}${
        failedItems.length
          ? `<div class="items">failed items: ${failedItems.map((i) => this.t(i.label)).join(', ')}</div>`
          : ''
      }${this.pre('stdout', res.stdout)}${this.pre('stderr', res.stderr)}<details><summary>full result</summary><pre>${this.t(details)}</pre></details></article>`;
    });
    return `<section id="failures"><h2>Failures (${failed.length})</h2>${cards.join('')}</section>`;
  }

  private diffHtml(d: FileDiff): string {
    const text = this.o.redactor.redact(renderDiff(this.o.redactor.redactValue(d) as FileDiff));
    if (!text) return '';
    const lines = text
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => {
        const cls =
          l.startsWith('+++') || l.startsWith('---')
            ? 'dh'
            : l.startsWith('+')
              ? 'da'
              : l.startsWith('-')
                ? 'dd'
                : l.startsWith('@@')
                  ? 'dr'
                  : '';
        return cls ? `<span class="${cls}">${htmlEscape(l)}</span>` : htmlEscape(l);
      });
    return `<pre class="diff">${lines.join('\n')}</pre>`;
  }

  private diffsSection(): string {
    const parts: string[] = [];
    for (const r of this.rows) {
      const d = r.result.diff;
      if (d === undefined) continue;
      const rendered = (Array.isArray(d) ? d : [d]).map((x) => this.diffHtml(x)).filter(Boolean);
      if (rendered.length === 0) continue;
      parts.push(
        `<article class="card st-${r.status}"><h3><span class="badge st-${r.status}">${r.status}</span> ${this.t(this.taskName(r))} <span class="host">[${this.t(this.who(r))}]</span></h3>${rendered.join('')}</article>`,
      );
    }
    if (parts.length === 0) return '';
    return `<section id="diffs"><h2>Diffs (${parts.length})</h2>${parts.join('')}</section>`;
  }

  private noticesSection(): string {
    if (this.notices.length === 0) return '';
    const items = this.notices.map(
      (n) =>
        `<li class="${n.kind}"><b>${n.kind}</b>${n.pos ? ` <span class="pos">${this.t(where(n.pos))}</span>` : ''}: ${this.t(n.message)}</li>`,
    );
    return `<section id="warnings"><h2>Warnings (${this.notices.length})</h2><ul>${items.join('')}</ul></section>`;
  }

  private resultsSection(): string {
    const filters = STATUS_ORDER.map(
      (s) =>
        `<label class="st-${s}"><input type="checkbox" data-filter="${s}" checked><span class="dot"></span>${s}</label>`,
    ).join('');
    const tables = this.plays.map((p, i) => {
      const rows = this.rows
        .filter((r) => r.play === i)
        .map((r) => {
          const res = r.result;
          const note = r.status === 'skipped' ? (res.skip_reason ?? '') : (res.msg ?? '');
          const items = r.items.length
            ? `<div class="items">${r.items.map((it) => `<span class="item st-${it.status}">${this.t(it.label)}</span>`).join(' ')}</div>`
            : '';
          const link =
            r.status === 'failed' || r.status === 'unreachable' ? ` <a href="#f${r.n}">details</a>` : '';
          return `<tr id="r${r.n}" class="st-${r.status}" data-status="${r.status}"><td>${this.t(this.taskName(r))}${r.task.handler ? ' <i>(handler)</i>' : ''}</td><td>${this.t(this.who(r))}</td><td><span class="badge st-${r.status}">${r.status}</span></td><td class="num">${secs(r.durationMs)}</td><td class="pos">${this.t(where(r.task.pos))}</td><td>${this.t(typeof note === 'string' ? note : JSON.stringify(this.o.redactor.redactValue(note)))}${items}${link}</td></tr>`;
        });
      const head = `<h3>Play: ${this.t(p.name)}${p.pos ? ` <span class="pos">${this.t(where(p.pos))}</span>` : ''}${p.noHosts ? ` <i>(${this.t(p.noHosts)})</i>` : ''}</h3>`;
      return `${head}<table class="results"><thead><tr><th>task</th><th>host</th><th>status</th><th>duration</th><th>source</th><th>message</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
    });
    return `<section id="results"><h2>Results</h2><div class="filters">${filters}</div>${tables.join('')}</section>`;
  }

  /** The whole page (what close() writes). */
  render(): string {
    const stats = this.hostStats();
    const out = this.outcome(stats);
    const title = this.o.title ?? 'drover report';
    const now = new Date((this.o.now ?? Date.now)()).toISOString();
    const duration =
      this.durationMs ??
      this.rows.reduce((m, r) => Math.max(m, r.end), this.runStart ?? 0) - (this.runStart ?? 0);
    const flags = [this.check ? 'check mode' : '', this.diff ? 'diff' : ''].filter(Boolean).join(', ');
    const colorRules = STATUS_ORDER.map(
      (s) =>
        `.bar.st-${s},.st-${s} .dot,.badge.st-${s}{background:${STATUS_COLORS[s]}}.card.st-${s}{border-left-color:${STATUS_COLORS[s]}}.item.st-${s}{border-color:${STATUS_COLORS[s]}}`,
    ).join('');
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="generator" content="drover"><title>${this.t(title)}</title>
<style>${CSS}${colorRules}</style></head>
<body><header><h1>${this.t(title)} <span class="badge st-${out.cls}">${this.t(out.label)}</span></h1>
<p class="meta">drover ${this.t(this.command)}${flags ? ` (${flags})` : ''} · ${this.hosts().length} hosts · ${this.rows.length} results · ${secs(duration)} · generated ${now}</p></header>
<main>${this.recapSection(stats)}${this.timelineSection()}${this.failuresSection()}${this.slowestSection()}${this.diffsSection()}${this.noticesSection()}${this.resultsSection()}</main>
<script>${SCRIPT}</script></body></html>
`;
  }

  async close(): Promise<void> {
    const text = this.render();
    if (this.o.path) writeFileSync(this.o.path, text);
    else (this.o.write ?? ((s: string) => process.stdout.write(s)))(text);
  }
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
header{padding:12px 20px;background:#fff;border-bottom:1px solid #d0d7de}
h1{margin:0;font-size:20px}h2{font-size:16px;margin:0 0 8px}h3{font-size:14px;margin:6px 0}
.meta{margin:4px 0 0;color:#59636e}
main{padding:12px 20px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px;margin-bottom:14px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
table.recap td{text-align:right;font-variant-numeric:tabular-nums}table.recap td.zero{color:#afb8c1}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px;vertical-align:middle}
.badge{display:inline-block;color:#fff;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;vertical-align:middle}
.timeline{position:relative}
.lane{display:flex;align-items:center;height:22px}
.lane-host{width:160px;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;padding-right:8px;font-size:12px}
.track{position:relative;flex:1;height:16px;background:#f0f3f6;border-radius:3px}
.axis .track{background:none;height:18px;border-bottom:1px solid #d0d7de}
.tick{position:absolute;top:0;font-size:11px;color:#59636e;white-space:nowrap;transform:translateX(-50%)}
.tick:first-child{transform:none}.tick:last-child{transform:translateX(-100%)}
.bar{position:absolute;top:1px;height:14px;min-width:3px;border-radius:2px;box-shadow:inset -1px 0 #fff}
.bar:hover{outline:2px solid #1f2328}
.legend-row{margin-bottom:6px;font-size:12px}.legend{margin-right:14px}
.card{border-left:4px solid #d0d7de;padding:4px 10px;margin:8px 0;background:#fafbfc}
.host{color:#59636e;font-weight:normal}.pos{color:#59636e;font-size:12px;font-family:ui-monospace,monospace}
pre{margin:4px 0;padding:6px 8px;background:#f6f8fa;border-radius:4px;overflow:auto;max-height:360px;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;white-space:pre-wrap;word-break:break-word}
pre.msg{background:#fff1f0}.out-label{font-size:12px;color:#59636e}
.diff .da{color:#116329;background:#dafbe1}.diff .dd{color:#82071e;background:#ffebe9}.diff .dr{color:#0550ae}.diff .dh{color:#59636e;font-weight:600}
.items{margin-top:2px}.item{display:inline-block;border:1px solid;border-radius:3px;padding:0 4px;margin:1px;font-size:12px}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.filters{margin-bottom:6px}.filters label{margin-right:12px;cursor:pointer}
tr.hidden{display:none}
`;

const SCRIPT = `
(function(){
  var boxes=document.querySelectorAll('[data-filter]');
  function apply(){
    var on={};boxes.forEach(function(b){on[b.getAttribute('data-filter')]=b.checked;});
    document.querySelectorAll('tr[data-status]').forEach(function(tr){
      tr.classList.toggle('hidden',!on[tr.getAttribute('data-status')]);
    });
  }
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  document.querySelectorAll('a.bar').forEach(function(a){
    a.addEventListener('click',function(){
      var row=document.querySelector(a.getAttribute('href'));
      if(row&&row.classList.contains('hidden')){boxes.forEach(function(b){b.checked=true;});apply();}
    });
  });
})();
`;
