/**
 * The one POSIX sh quoting function. Every user value that reaches a remote script goes
 * through `quote`; scripts are never built by concatenating unquoted user data.
 */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote a value as one POSIX sh word, byte-exact (spaces, quotes, $, backticks, newlines, unicode). */
export function quote(value: string | number): string {
  const s = String(value);
  if (s !== '' && SAFE.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Quote each value and join them with spaces: a safe argv for sh. */
export function quoteArgs(values: readonly (string | number)[]): string {
  return values.map(quote).join(' ');
}

/** `NAME=value` assignments for an env prefix; names are validated, values quoted. */
export function envAssignments(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid environment variable name: ${k}`);
      return `${k}=${quote(v)}`;
    })
    .join(' ');
}
