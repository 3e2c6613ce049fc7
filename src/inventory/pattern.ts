/**
 * Host patterns evaluated exactly as Ansible's InventoryManager does: split on `,` (or `:`
 * and whitespace when the text is not an address), regular patterns first, then `&`
 * intersections, then `!` exclusions; globs and `~regex` match group names first and host
 * names too when the pattern has wildcards; `[i]`, `[a:b]`, `[-1]` subscripts.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseAddress } from './address.js';
import type { Host, InventoryData } from './data.js';
import { LOCALHOST_NAMES } from './data.js';

const PATTERN_WITH_SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/s;

export class PatternError extends Error {}

/** Ansible's split_host_pattern. */
export function splitHostPattern(pattern: string | string[]): string[] {
  if (Array.isArray(pattern)) return pattern.flatMap((p) => splitHostPattern(p));
  let parts: string[];
  if (pattern.includes(',')) parts = pattern.split(',');
  else {
    try {
      parseAddress(pattern, true);
      parts = [pattern];
    } catch {
      parts = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
    }
  }
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

export function orderPatterns(patterns: string[]): string[] {
  const regular: string[] = [];
  const inter: string[] = [];
  const excl: string[] = [];
  for (const p of patterns) {
    if (!p) continue;
    if (p[0] === '!') excl.push(p);
    else if (p[0] === '&') inter.push(p);
    else regular.push(p);
  }
  return [...(regular.length > 0 ? regular : ['all']), ...inter, ...excl];
}

/** Python's fnmatch.translate, anchored at both ends. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let i = 0;
  while (i < glob.length) {
    const c = glob[i++]!;
    if (c === '*') {
      re += '.*';
      while (glob[i] === '*') i++;
    } else if (c === '?') re += '.';
    else if (c === '[') {
      let j = i;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) re += '\\[';
      else {
        let stuff = glob.slice(i, j).replace(/\\/g, '\\\\');
        i = j + 1;
        if (stuff[0] === '!') stuff = `^${stuff.slice(1)}`;
        else if (stuff[0] === '^') stuff = `\\${stuff}`;
        re += `[${stuff}]`;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`, 's');
}

/** A Python `re` pattern used with re.match (anchored at the start only). */
function pythonRegExp(src: string): RegExp {
  let body = src;
  let flags = '';
  // Python's leading inline flags, e.g. `~(?i)web`; JS takes them as RegExp flags.
  const inline = /^\(\?([aiLmsux]+)\)/.exec(body);
  if (inline) {
    body = body.slice(inline[0].length);
    for (const f of inline[1]!) if ('ims'.includes(f) && !flags.includes(f)) flags += f;
  }
  body = body
    .replace(/\(\?P<(\w+)>/g, '(?<$1>')
    .replace(/\(\?P=(\w+)\)/g, '\\k<$1>')
    .replace(/\\A/g, '^')
    .replace(/\\Z/g, '$(?![\\s\\S])');
  return new RegExp(`^(?:${body})`, flags);
}

export interface PatternContext {
  data: InventoryData;
  warn: (message: string) => void;
  pythonInterpreter: string;
  /** Where `@retryfile` limits are resolved from. */
  cwd: string;
}

export class PatternMatcher {
  private readonly cache = new Map<string, Host[]>();
  constructor(private readonly ctx: PatternContext) {}

  clear(): void {
    this.cache.clear();
  }

  /** Hosts matching `pattern`, restricted to `limit` when given (Ansible's get_hosts). */
  getHosts(pattern: string | string[], limit?: string | string[]): Host[] {
    // Fresh per call, so every selection warns about its own unmatched names (as each
    // `ansible` run does); the cache still spares repeats inside one pattern and its limit.
    this.cache.clear();
    let hosts = this.evaluate(splitHostPattern(pattern));
    if (limit !== undefined) {
      const subset = new Set(this.evaluate(expandLimit(limit, this.ctx.cwd)));
      hosts = hosts.filter((h) => subset.has(h));
    }
    return [...new Set(hosts)];
  }

  evaluate(patterns: string[]): Host[] {
    let hosts: Host[] = [];
    for (const p of orderPatterns(patterns)) {
      const exact = this.ctx.data.hosts.get(p);
      if (exact) {
        hosts.push(exact);
        continue;
      }
      const that = this.matchOne(p);
      if (p[0] === '!') {
        const s = new Set(that);
        hosts = hosts.filter((h) => !s.has(h));
      } else if (p[0] === '&') {
        const s = new Set(that);
        hosts = hosts.filter((h) => s.has(h));
      } else {
        const existing = new Set(hosts.map((h) => h.name));
        for (const h of that) if (!existing.has(h.name)) hosts.push(h);
      }
    }
    return hosts;
  }

  private matchOne(raw: string): Host[] {
    const pattern = raw[0] === '&' || raw[0] === '!' ? raw.slice(1) : raw;
    const hit = this.cache.get(pattern);
    if (hit) return hit;
    const [expr, subscript] = this.splitSubscript(pattern);
    let hosts = this.enumerate(expr);
    if (subscript && hosts.length > 0) {
      const [start, end] = subscript;
      const at = (i: number): number => (i < 0 ? hosts.length + i : i);
      // Python's `if end:` treats [x:0] like [x].
      if (end !== undefined && end !== 0) {
        const e = end === -1 ? hosts.length - 1 : end;
        hosts = hosts.slice(Math.max(0, at(start)), e + 1);
      } else {
        const i = at(start);
        if (i < 0 || i >= hosts.length)
          throw new PatternError(`No hosts matched the subscripted pattern '${pattern}'`);
        hosts = [hosts[i]!];
      }
    }
    this.cache.set(pattern, hosts);
    return hosts;
  }

  private splitSubscript(pattern: string): [string, [number, number | undefined] | undefined] {
    if (pattern[0] === '~') return [pattern, undefined];
    const m = PATTERN_WITH_SUBSCRIPT.exec(pattern);
    if (!m) return [pattern, undefined];
    const [, expr, idx, start, sep, end] = m;
    if (idx) return [expr!, [Number.parseInt(idx, 10), undefined]];
    if (sep === '-') this.ctx.warn('Use [x:y] inclusive subscripts instead of [x-y] which has been removed');
    return [expr!, [Number.parseInt(start!, 10), end ? Number.parseInt(end, 10) : -1]];
  }

  private matchList(items: Iterable<string>, pattern: string): string[] {
    let re: RegExp;
    try {
      re = pattern[0] === '~' ? pythonRegExp(pattern.slice(1)) : globToRegExp(pattern);
    } catch {
      throw new PatternError(`Invalid host list pattern: ${pattern}`);
    }
    const out: string[] = [];
    for (const item of items) if (re.test(item)) out.push(item);
    return out;
  }

  private enumerate(pattern: string): Host[] {
    const { data } = this.ctx;
    const results: Host[] = [];
    const groups = this.matchList(data.groups.keys(), pattern);
    for (const g of groups) results.push(...data.groups.get(g)!.getHosts());
    if (groups.length === 0 || pattern[0] === '~' || /[.?*[]/.test(pattern)) {
      for (const h of this.matchList(data.hosts.keys(), pattern)) results.push(data.hosts.get(h)!);
    }
    if (results.length === 0 && LOCALHOST_NAMES.has(pattern)) {
      const implicit = data.getHost(pattern, this.ctx.pythonInterpreter);
      if (implicit) results.push(implicit);
    }
    if (results.length === 0 && groups.length === 0 && pattern !== 'all') {
      this.ctx.warn(`Could not match supplied host pattern, ignoring: ${pattern}`);
    }
    return results;
  }
}

/** `--limit` patterns, with `@file` entries replaced by the file's lines. */
export function expandLimit(limit: string | string[], cwd = process.cwd()): string[] {
  const out: string[] = [];
  for (const x of splitHostPattern(limit)) {
    if (x[0] !== '@') {
      out.push(x);
      continue;
    }
    const file = resolve(cwd, x.slice(1));
    const st = (() => {
      try {
        return statSync(file);
      } catch {
        return undefined;
      }
    })();
    if (!st) throw new PatternError(`Unable to find limit file ${file}`);
    if (!st.isFile())
      throw new PatternError(`Limit starting with "@" must be a file, not a directory: ${file}`);
    out.push(
      ...readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => l.trim()),
    );
  }
  return out;
}
