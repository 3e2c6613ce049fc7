/**
 * A loaded YAML value together with its node, so the loader can walk plain JS data and
 * still point every problem at file:line:col.
 */
import type { Node } from 'yaml';
import type { SourcePos } from '../errors.js';
import { isMap, isSeq, type LoadedYaml, mapEntry, posOf, seqItem } from '../yaml/load.js';

export interface Src {
  v: unknown;
  n: Node | null | undefined;
  y: Pick<LoadedYaml, 'file' | 'lineCounter'>;
  /** Where to point when the node is unknown (merge keys, null values). */
  fb: SourcePos;
}

export function srcPos(s: Src): SourcePos {
  return s.n?.range ? posOf(s.n, s.y) : s.fb;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return (
    v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype
  );
}

/** The position of a mapping's key (for "unknown keyword" problems). */
export function keyPos(s: Src, key: string): SourcePos {
  const e = mapEntry(s.n, key);
  return e ? posOf(e.key, s.y) : srcPos(s);
}

export function child(s: Src, key: string): Src {
  const v = isRecord(s.v) ? s.v[key] : undefined;
  const e = isMap(s.n) ? mapEntry(s.n, key) : undefined;
  const fb = e ? posOf(e.key, s.y) : srcPos(s);
  return { v, n: e?.value ?? undefined, y: s.y, fb };
}

export function items(s: Src): Src[] {
  if (!Array.isArray(s.v)) return [];
  const base = srcPos(s);
  return s.v.map((v, i) => {
    const n = isSeq(s.n) ? seqItem(s.n, i) : undefined;
    return { v, n, y: s.y, fb: base };
  });
}

/** Python-ish type name for messages ("got a mapping"). */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return isRecord(v) ? 'mapping' : 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  return 'string';
}

/** Keys that appear more than once in a mapping node (YAML allows it; Ansible warns). */
export function duplicateKeys(s: Src): { key: string; pos: SourcePos }[] {
  if (!isMap(s.n)) return [];
  const seen = new Set<string>();
  const out: { key: string; pos: SourcePos }[] = [];
  for (const pair of s.n.items) {
    const k = pair.key as Node & { value?: unknown };
    const name = String(k?.value ?? '');
    if (seen.has(name)) out.push({ key: name, pos: posOf(k, s.y) });
    seen.add(name);
  }
  return out;
}
