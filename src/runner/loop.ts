/**
 * Loop items for `loop:` and the with_* forms in common use, computed on the controller.
 * with_X: terms is lookup('X', terms, wantlist=True); the common lookups are done here
 * directly (no template round trip), the rest go through the template engine's query().
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { searchPathGlob } from '../util/fnmatch.js';
import { findInSearchPath } from './controller-files.js';
import type { TemplateEngine, VarLookup } from './ports.js';

export class LoopError extends Error {}

function listify(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  return [v];
}

function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function product(lists: unknown[][]): unknown[][] {
  return lists.reduce<unknown[][]>((acc, l) => acc.flatMap((a) => l.map((x) => [...a, x])), [[]]);
}

/** with_sequence: "start=1 end=10 stride=2 format=web%02d" or "count=5" or "4-8/2:host%d". */
export function sequence(spec: string): string[] {
  let start = 1;
  let end: number | undefined;
  let count: number | undefined;
  let stride = 1;
  let format = '%d';
  const short = spec.match(/^\s*(?:(-?\d+)-)?(-?\d+)(?:\/(\d+))?(?::(.+))?\s*$/);
  if (short && !spec.includes('=')) {
    if (short[1] !== undefined) start = Number(short[1]);
    end = Number(short[2]);
    if (short[3]) stride = Number(short[3]);
    if (short[4]) format = short[4];
  } else {
    for (const part of spec.split(/[\s,]+/).filter(Boolean)) {
      const [k, v] = part.split('=', 2) as [string, string];
      if (k === 'start') start = Number(v);
      else if (k === 'end') end = Number(v);
      else if (k === 'count') count = Number(v);
      else if (k === 'stride') stride = Number(v);
      else if (k === 'format') format = v;
      else throw new LoopError(`unrecognized arguments to with_sequence: ${k}`);
    }
  }
  if (count !== undefined) end = start + (count - 1) * stride;
  if (end === undefined) throw new LoopError('must specify count or end in with_sequence');
  const out: string[] = [];
  if (stride > 0) for (let i = start; i <= end; i += stride) out.push(pyFormat(format, i));
  else if (stride < 0) for (let i = start; i >= end; i += stride) out.push(pyFormat(format, i));
  return out;
}

function pyFormat(fmt: string, n: number): string {
  return fmt.replace(/%(0?)(\d*)([dxXos])/, (_m, zero: string, width: string, conv: string) => {
    let s =
      conv === 'x'
        ? n.toString(16)
        : conv === 'X'
          ? n.toString(16).toUpperCase()
          : conv === 'o'
            ? n.toString(8)
            : String(n);
    if (width) s = s.padStart(Number(width), zero ? '0' : ' ');
    return s;
  });
}

export interface LoopContext {
  templar: TemplateEngine;
  vars: VarLookup;
  /** Controller dirs searched by file lookups (role files/, playbook dir). */
  searchPath: string[];
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** File lookups take regular files only; an absolute name is used as given. */
function findControllerFile(name: string, ctx: LoopContext, sub: string): string | undefined {
  if (isAbsolute(name)) return name;
  return findInSearchPath(ctx.searchPath, sub, name, isFile);
}

/** The items of a task's loop, templated. */
export function loopItems(kind: string, rawTerms: unknown, ctx: LoopContext): unknown[] {
  const terms = ctx.templar.template(rawTerms, ctx.vars);
  switch (kind) {
    case 'loop': {
      if (!Array.isArray(terms)) {
        throw new LoopError(
          `Invalid data passed to 'loop', it requires a list, got this instead: ${pyStr(terms)}. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup.`,
        );
      }
      return terms;
    }
    case 'items':
      return listify(terms).flatMap((t) => (Array.isArray(t) ? t : [t]));
    case 'list':
      return listify(terms);
    case 'flattened': {
      const flat = (v: unknown): unknown[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);
      return flat(terms);
    }
    case 'indexed_items':
      return listify(terms)
        .flatMap((t) => (Array.isArray(t) ? t : [t]))
        .map((t, i) => [i, t]);
    case 'dict': {
      const out: unknown[] = [];
      for (const d of listify(terms)) {
        if (d === null || typeof d !== 'object' || Array.isArray(d))
          throw new LoopError('with_dict expects a dict');
        for (const [key, value] of Object.entries(d)) out.push({ key, value });
      }
      return out;
    }
    case 'together': {
      const lists = listify(terms).map(listify);
      const n = Math.max(0, ...lists.map((l) => l.length));
      return Array.from({ length: n }, (_, i) => lists.map((l) => (i < l.length ? l[i] : null)));
    }
    case 'nested':
    case 'cartesian':
      return product(listify(terms).map(listify));
    case 'subelements': {
      const t = listify(terms);
      const base = t[0];
      const key = String(t[1]);
      const flags = (t[2] ?? {}) as { skip_missing?: boolean };
      const elements = Array.isArray(base)
        ? base
        : base && typeof base === 'object'
          ? Object.values(base)
          : [];
      const out: unknown[] = [];
      for (const el of elements) {
        let sub: unknown = el;
        for (const part of key.split('.')) {
          sub = sub && typeof sub === 'object' ? (sub as Record<string, unknown>)[part] : undefined;
        }
        if (sub === undefined) {
          if (flags.skip_missing) continue;
          throw new LoopError(`could not find '${key}' key in iterated item '${pyStr(el)}'`);
        }
        if (!Array.isArray(sub))
          throw new LoopError(`the key ${key} should point to a list, got '${pyStr(sub)}'`);
        for (const s of sub) out.push([el, s]);
      }
      return out;
    }
    case 'sequence':
      return listify(terms).flatMap((t) => sequence(String(t)));
    case 'random_choice': {
      const l = listify(terms);
      return l.length === 0 ? [] : [l[Math.floor(Math.random() * l.length)]];
    }
    case 'fileglob':
      return listify(terms).flatMap((pattern) => searchPathGlob(String(pattern), ctx.searchPath));
    case 'first_found': {
      const candidates = listify(terms).flatMap((t) => {
        if (t && typeof t === 'object' && !Array.isArray(t)) {
          const o = t as { files?: unknown; paths?: unknown; skip?: boolean };
          const files = listify(o.files).map(String);
          const paths = listify(o.paths).map(String);
          return paths.length ? paths.flatMap((p) => files.map((f) => join(p, f))) : files;
        }
        return [String(t)];
      });
      for (const c of candidates) {
        const f = findControllerFile(c, ctx, 'files');
        if (f) return [f];
      }
      throw new LoopError(`No file was found when using first_found. Looked for: ${candidates.join(', ')}`);
    }
    case 'file':
      return listify(terms).map((t) => {
        const f = findControllerFile(String(t), ctx, 'files');
        if (!f) throw new LoopError(`could not locate file in lookup: ${String(t)}`);
        return readFileSync(f, 'utf8').replace(/\n$/, '');
      });
    default: {
      const v = ctx.templar.evaluate(`query(${JSON.stringify(kind)}, __drover_loop_terms)`, (name) =>
        name === '__drover_loop_terms' ? terms : ctx.vars(name),
      );
      return listify(v);
    }
  }
}
