/**
 * Argument validation with Ansible's rules (AnsibleModule's argument_spec): aliases,
 * defaults, choices, type coercion (bool from yes/no/on/off/1/0, list from "a,b"),
 * mutually_exclusive / required_one_of / required_together / required_if.
 *
 * Used twice: statically at load time (`partial: true`, values that are still templates
 * are skipped) so typos are reported before any host is contacted, and per host after
 * templating, where it is authoritative.
 */
import type { ArgDef, ArgSpec, ArgType } from './types.js';

export interface ValidatedArgs {
  args: Record<string, unknown>;
  errors: string[];
  warnings: string[];
}

const TRUE = new Set(['yes', 'on', '1', 'true', 'y', 't']);
const FALSE = new Set(['no', 'off', '0', 'false', 'n', 'f']);

export function isTemplated(v: unknown): boolean {
  return typeof v === 'string' && (v.includes('{{') || v.includes('{%'));
}

export function toBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1 ? true : v === 0 ? false : undefined;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
  }
  return undefined;
}

function coerce(
  name: string,
  type: ArgType,
  v: unknown,
  elements?: ArgType,
): { value?: unknown; error?: string } {
  const bad = (what: string) => ({
    error: `argument '${name}' is of type ${pyType(v)} and we were unable to convert to ${what}`,
  });
  switch (type) {
    case 'raw':
    case 'jsonarg':
      return { value: v };
    case 'str':
    case 'path':
      if (typeof v === 'string') return { value: v };
      if (typeof v === 'number' || typeof v === 'boolean') return { value: pyStr(v) };
      if (v !== null && typeof v === 'object' && 'plaintext' in v) return { value: String(v) };
      return bad('str');
    case 'bool': {
      const b = toBool(v);
      return b === undefined ? bad('bool') : { value: b };
    }
    case 'int': {
      if (typeof v === 'number' && Number.isInteger(v)) return { value: v };
      if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return { value: Number.parseInt(v, 10) };
      if (typeof v === 'number' && Number.isFinite(v) && Number.isInteger(v)) return { value: v };
      return bad('int');
    }
    case 'float': {
      if (typeof v === 'number') return { value: v };
      if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return { value: Number(v) };
      return bad('float');
    }
    case 'list': {
      let list: unknown[];
      if (Array.isArray(v)) list = v;
      else if (typeof v === 'string') list = v === '' ? [] : v.split(',');
      else if (typeof v === 'number' || typeof v === 'boolean') list = [pyStr(v)];
      else return bad('list');
      if (!elements) return { value: list };
      const out: unknown[] = [];
      for (const item of list) {
        const r = coerce(`${name}[]`, elements, item);
        if (r.error) return r;
        out.push(r.value);
      }
      return { value: out };
    }
    case 'dict': {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) return { value: v };
      if (typeof v === 'string') {
        const t = v.trim();
        if (t.startsWith('{')) {
          try {
            return { value: JSON.parse(t) };
          } catch {
            return bad('dict');
          }
        }
        const out: Record<string, string> = {};
        for (const part of t.split(/[,\s]+/).filter(Boolean)) {
          const i = part.indexOf('=');
          if (i < 1) return bad('dict');
          out[part.slice(0, i)] = part.slice(i + 1);
        }
        return { value: out };
      }
      return bad('dict');
    }
  }
}

function pyStr(v: number | boolean): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return String(v);
}

function pyType(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'dict';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'boolean') return 'bool';
  return 'str';
}

/** Map of every accepted name (canonical and alias) to its canonical name. */
export function argNames(spec: ArgSpec): Map<string, string> {
  const names = new Map<string, string>();
  for (const [name, def] of Object.entries(spec.options)) {
    names.set(name, name);
    for (const a of def.aliases ?? []) names.set(a, name);
  }
  return names;
}

export function validateArgs(
  moduleName: string,
  spec: ArgSpec,
  raw: Record<string, unknown>,
  opts: { partial?: boolean } = {},
): ValidatedArgs {
  const errors: string[] = [];
  const warnings: string[] = [];
  const names = argNames(spec);
  const args: Record<string, unknown> = {};
  const unsupported: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (key === '_raw_params' && spec.freeForm) {
      args._raw_params = value;
      continue;
    }
    if (key.startsWith('_ansible_')) continue;
    const canonical = names.get(key);
    if (!canonical) {
      unsupported.push(key);
      continue;
    }
    if (canonical in args && canonical !== key) {
      warnings.push(`Both option ${canonical} and its alias ${key} are set.`);
    }
    args[canonical] = value;
  }
  if (unsupported.length > 0) {
    const supported = [...names.keys()].sort().join(', ');
    errors.push(
      `Unsupported parameters for (${moduleName}) module: ${unsupported.sort().join(', ')}. Supported parameters include: ${supported}.`,
    );
  }

  for (const group of spec.mutuallyExclusive ?? []) {
    const set = group.filter((n) => args[n] !== undefined && args[n] !== null);
    if (set.length > 1) errors.push(`parameters are mutually exclusive: ${group.join('|')}`);
  }

  for (const [name, def] of Object.entries(spec.options) as [string, ArgDef][]) {
    let v = args[name];
    if (v === undefined || v === null) {
      if (def.required) {
        if (!(name === '_raw_params' && spec.freeForm)) errors.push(`missing required arguments: ${name}`);
        continue;
      }
      if (def.default !== undefined) args[name] = def.default;
      continue;
    }
    if (opts.partial && isTemplated(v)) continue;
    if (opts.partial && Array.isArray(v) && v.some(isTemplated)) continue;
    const r = coerce(name, def.type ?? 'str', v, def.elements);
    if (r.error) {
      errors.push(r.error);
      continue;
    }
    v = r.value;
    if (def.choices && (v === 'True' || v === 'False')) {
      // YAML turned `no`/`yes` into a bool and str coercion made it 'False'/'True': like
      // AnsibleModule, map it back when exactly one boolean spelling is among the choices
      // (uri follow_redirects: no).
      const spellings = v === 'True' ? TRUE : FALSE;
      const overlap = def.choices.filter((c) => typeof c === 'string' && spellings.has(c));
      if (overlap.length === 1 && !def.choices.includes(v)) v = overlap[0];
    }
    args[name] = v;
    if (def.choices && !def.choices.some((c) => c === v || String(c) === String(v))) {
      errors.push(
        `value of ${name} must be one of: ${def.choices.map(String).join(', ')}, got: ${String(v)}`,
      );
    }
  }

  for (const group of spec.requiredOneOf ?? []) {
    if (!group.some((n) => raw[n] !== undefined || args[n] !== undefined)) {
      errors.push(`one of the following is required: ${group.join(', ')}`);
    }
  }
  for (const group of spec.requiredTogether ?? []) {
    const set = group.filter((n) => args[n] !== undefined && args[n] !== null);
    if (set.length > 0 && set.length < group.length) {
      errors.push(`parameters are required together: ${group.join(', ')}`);
    }
  }
  for (const [key, val, reqs, any] of spec.requiredIf ?? []) {
    const v = args[key];
    if (v === undefined || (opts.partial && isTemplated(v))) continue;
    if (v === val || String(v) === String(val)) {
      const missing = reqs.filter((n) => args[n] === undefined || args[n] === null);
      if (any ? missing.length === reqs.length : missing.length > 0) {
        errors.push(
          `${key} is ${String(val)} but ${any ? 'any' : 'all'} of the following are missing: ${missing.join(', ')}`,
        );
      }
    }
  }
  return { args, errors, warnings };
}
