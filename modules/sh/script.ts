/**
 * Builds module scripts: the shared prelude, the CHECK switch, quoted variable
 * assignments, then the module's fixed body. User values reach the body only through the
 * assigned variables, so the body never interpolates user data itself.
 */
import { quote } from '../../src/shell/quote.js';
import { SH_PRELUDE } from './prelude.js';

export type ShValue = string | number | boolean | undefined | null;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `name=value` with the value quoted; booleans become 1/0, absent values ''. */
export function shAssign(name: string, value: ShValue): string {
  if (!NAME.test(name)) throw new Error(`invalid shell variable name: ${name}`);
  let v: string;
  if (value === undefined || value === null) v = '';
  else if (typeof value === 'boolean') v = value ? '1' : '0';
  else v = String(value);
  return `${name}=${v === '' ? "''" : quote(v)}`;
}

/** A path made safe to pass as an operand: a leading `-` would read as an option. */
export function shPath(p: string): string {
  return p.startsWith('-') ? `./${p}` : p;
}

export interface ShScriptOptions {
  check: boolean;
  /** Scratch directory on the target (PlanContext.remoteTmp). */
  tmp?: string;
  vars?: Record<string, ShValue>;
  /**
   * Variables holding paths whose leading `~` or `~/` means the remote user's $HOME, as
   * Ansible's `type: path` arguments do (expanded on the target, after become).
   */
  tilde?: readonly string[];
  body: string;
}

/** sh that expands a leading `~` in the named variable (the name is ours, never user data). */
export function shTilde(name: string): string {
  if (!NAME.test(name)) throw new Error(`invalid shell variable name: ${name}`);
  return `case $${name} in '~'|'~/'*) ${name}="$HOME\${${name}#'~'}" ;; esac`;
}

export function shScript(opts: ShScriptOptions): string {
  const lines = [SH_PRELUDE.trim(), shAssign('CHECK', opts.check), shAssign('DR_TMP', opts.tmp ?? '/tmp')];
  for (const [k, v] of Object.entries(opts.vars ?? {})) lines.push(shAssign(k, v));
  for (const k of opts.tilde ?? []) lines.push(shTilde(k));
  lines.push(opts.body.trim(), '');
  return lines.join('\n');
}
