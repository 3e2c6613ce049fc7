/**
 * Which action a task runs and with what raw arguments: Ansible's ModuleArgsParser
 * (ansible/parsing/mod_args.py) for the forms `copy: {..}`, `copy: a=b`, `action: copy a=b`,
 * `local_action: ...`, `action: {module: copy, ..}` plus `args:`.
 */
import { findModule, moduleNames } from '../../modules/index.js';
import type { ArgSpec } from '../../modules/types.js';
import { actionNames, FREE_FORM_ACTIONS, findAction } from './actions.js';
import { parseKv, SplitArgsError, splitArgs } from './split-args.js';

export interface ResolvedAction {
  /** Canonical short name ('copy', 'debug'). */
  name: string;
  spec: ArgSpec;
  /** Engine action (runner-side) rather than a module. */
  engine: boolean;
  anyArgs: boolean;
}

const INTERNAL_PREFIXES = ['ansible.builtin.', 'ansible.legacy.'];

/** Resolve a name as written (short or FQCN) to a module or engine action. */
export function resolveAction(written: string): ResolvedAction | undefined {
  const candidates = [written];
  for (const p of INTERNAL_PREFIXES) if (written.startsWith(p)) candidates.push(written.slice(p.length));
  for (const c of candidates) {
    const a = findAction(c);
    if (a) return { name: a.names[0]!, spec: a.args, engine: true, anyArgs: a.anyArgs ?? false };
    const m = findModule(c);
    if (m) return { name: m.names[0]!, spec: m.args, engine: false, anyArgs: false };
  }
  return undefined;
}

let knownNames: string[] | undefined;

/** Every module and action name (for did-you-mean); the registries are complete at import. */
export function knownActionNames(): string[] {
  knownNames ??= [...new Set([...actionNames(), ...moduleNames()])];
  return knownNames;
}

function shortName(written: string): string {
  for (const p of INTERNAL_PREFIXES) if (written.startsWith(p)) return written.slice(p.length);
  return written;
}

export function isFreeForm(written: string): boolean {
  const r = resolveAction(written);
  return FREE_FORM_ACTIONS.has(r?.name ?? shortName(written));
}

export class ActionShapeError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

function kv(text: string, written: string): Record<string, unknown> {
  try {
    return parseKv(text, isFreeForm(written));
  } catch (e) {
    if (e instanceof SplitArgsError) {
      throw new ActionShapeError(
        e.message,
        'close the quote (or the {{ }} block), or write the arguments as a YAML mapping',
      );
    }
    throw e;
  }
}

/** `copy: <thing>`: a mapping, a key=value string, or nothing. */
export function newStyleArgs(thing: unknown, written: string): Record<string, unknown> {
  if (thing === null || thing === undefined) return {};
  if (typeof thing === 'string') return kv(thing, written);
  if (
    typeof thing === 'object' &&
    !Array.isArray(thing) &&
    Object.getPrototypeOf(thing) === Object.prototype
  ) {
    return { ...(thing as Record<string, unknown>) };
  }
  if (typeof thing === 'number' || typeof thing === 'boolean') return kv(String(thing), written);
  throw new ActionShapeError(
    `unexpected parameter type in action: ${Array.isArray(thing) ? 'list' : typeof thing}`,
    'give the module arguments as a mapping or as a key=value string',
  );
}

/** `action: copy a=b` or `action: {module: copy, a: b}`: returns the name and the args. */
export function oldStyleArgs(thing: unknown): { written: string; args: Record<string, unknown> } {
  if (typeof thing === 'string') {
    let tokens: string[];
    try {
      tokens = splitArgs(thing);
    } catch (e) {
      if (e instanceof SplitArgsError) throw new ActionShapeError(e.message);
      throw e;
    }
    if (tokens.length === 0) throw new ActionShapeError('no module/action detected in task.');
    const written = tokens[0]!.trim();
    return { written, args: kv(tokens.slice(1).join(' '), written) };
  }
  if (thing !== null && typeof thing === 'object' && !Array.isArray(thing)) {
    const obj = { ...(thing as Record<string, unknown>) };
    if (typeof obj.module !== 'string') {
      throw new ActionShapeError(
        'no module/action detected in task.',
        "a mapping given to 'action' needs a 'module' key naming the module",
      );
    }
    const { written, args: fromString } = oldStyleArgs(obj.module);
    delete obj.module;
    let args: Record<string, unknown> = { ...obj, ...fromString };
    if ('args' in args) {
      const extra = args.args;
      delete args.args;
      if (typeof extra === 'string') args = { ...args, ...kv(extra, written) };
      else if (extra && typeof extra === 'object') args = { ...args, ...(extra as Record<string, unknown>) };
    }
    return { written, args };
  }
  throw new ActionShapeError(
    `unexpected parameter type in action: ${Array.isArray(thing) ? 'list' : typeof thing}`,
  );
}
