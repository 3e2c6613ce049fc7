#!/usr/bin/env node
/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per
 * source file, and total (inclusive) time of the functions that matter, so a profile can
 * be read without a browser.
 *
 *   node dist/bench/profile-summary.js FILE.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  selfByFunction: [string, number][];
  selfByFile: [string, number][];
  inclusiveByFunction: [string, number][];
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/');
}

export function summarise(p: CpuProfile, top = 30): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const label = (n: ProfileNode): string =>
    `${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const selfFn = new Map<string, number>();
  const selfFile = new Map<string, number>();
  const incl = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    if (n.callFrame.functionName === '(idle)') idle += us;
    selfFn.set(label(n), (selfFn.get(label(n)) ?? 0) + us);
    const file = shortUrl(n.callFrame.url) || n.callFrame.functionName;
    selfFile.set(file, (selfFile.get(file) ?? 0) + us);
    // Inclusive: every distinct function on the stack gets the sample once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur);
      if (!c) break;
      const l = label(c);
      if (seen.has(l)) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + us);
    }
  }
  const sorted = (m: Map<string, number>): [string, number][] =>
    [...m.entries()]
      .map(([k, v]): [string, number] => [k, v / 1000])
      .sort((a, b) => b[1] - a[1])
      .slice(0, top);
  return {
    totalMs: (p.endTime - p.startTime) / 1000,
    idleMs: idle / 1000,
    selfByFunction: sorted(selfFn),
    selfByFile: sorted(selfFile),
    inclusiveByFunction: sorted(incl),
  };
}

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: profile-summary.js FILE.cpuprofile [--top N]');
  const topAt = process.argv.indexOf('--top');
  const top = topAt > 0 ? Number(process.argv[topAt + 1]) : 30;
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top);
  const out: string[] = [`profile ${s.totalMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms`];
  const section = (title: string, rows: [string, number][]): void => {
    out.push('', title);
    for (const [k, ms] of rows) out.push(`${ms.toFixed(1).padStart(9)} ms  ${k}`);
  };
  section('self time by file', s.selfByFile);
  section('self time by function', s.selfByFunction);
  section('inclusive time by function', s.inclusiveByFunction);
  process.stdout.write(`${out.join('\n')}\n`);
}

main();
