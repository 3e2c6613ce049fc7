/** Small helpers shared by the built-in providers. */
import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import type { Attrs, AttrValue } from '../provider.js';

export function sha1(s: string): string {
  return createHash('sha1').update(s).digest('hex');
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** A path from config: relative ones are relative to the infra directory. */
export function configPath(dir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dir, p);
}

export function str(a: Attrs, k: string, dflt = ''): string {
  const v = a[k];
  return v === undefined || v === null ? dflt : typeof v === 'string' ? v : String(v);
}

export function num(a: Attrs, k: string, dflt: number): number {
  const v = a[k];
  if (v === undefined || v === null) return dflt;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : dflt;
}

export function bool(a: Attrs, k: string, dflt: boolean): boolean {
  const v = a[k];
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'boolean') return v;
  return ['true', 'yes', '1', 'on'].includes(String(v).toLowerCase());
}

export function mapOf(v: AttrValue | undefined): Record<string, AttrValue> {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

/** Config plus schema defaults for the arguments that were not set. */
export function withDefaults(
  config: Attrs,
  attrs: Record<string, { default?: AttrValue; required?: boolean; optional?: boolean }>,
): Attrs {
  const out: Attrs = {};
  for (const [k, s] of Object.entries(attrs)) {
    if (config[k] !== undefined && config[k] !== null) out[k] = config[k];
    else if (s.default !== undefined) out[k] = s.default;
  }
  return out;
}
