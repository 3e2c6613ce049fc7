/**
 * File mode arguments as Ansible reads them: an int is taken as the mode's numeric value
 * (YAML `0644` is 420, meaning 0o644; a bare `644` int is decimal and Ansible warns about it),
 * an octal string is octal, anything else must be a chmod symbolic mode, applied by the
 * target's own chmod so `X`, `s`, `t` and umask rules are chmod's.
 */
const SYMBOLIC = /^[ugoa]*([-+=]([rwxXst]*|[ugo]))+(,[ugoa]*([-+=]([rwxXst]*|[ugo]))+)*$/;

export type ModeArg = { ok: true; mode: string | undefined } | { ok: false; error: string };

/** Normalize a mode argument to 4-digit octal ('0644'), a symbolic mode, or 'preserve'. */
export function normalizeMode(raw: unknown, opts: { allowPreserve?: boolean } = {}): ModeArg {
  if (raw === undefined || raw === null || raw === '') return { ok: true, mode: undefined };
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw) || raw < 0 || raw > 0o7777)
      return { ok: false, error: `mode must be in octal or symbolic form, got: ${raw}` };
    return { ok: true, mode: raw.toString(8).padStart(4, '0') };
  }
  if (typeof raw !== 'string') return { ok: false, error: 'mode must be in octal or symbolic form' };
  const s = raw.trim();
  if (s === 'preserve') {
    return opts.allowPreserve
      ? { ok: true, mode: 'preserve' }
      : { ok: false, error: "mode 'preserve' is only valid for copy and template" };
  }
  if (/^0?o?[0-7]{1,5}$/.test(s)) {
    const n = Number.parseInt(s.replace(/^0?o/, ''), 8);
    if (n > 0o7777) return { ok: false, error: `mode must be in octal or symbolic form, got: ${s}` };
    return { ok: true, mode: n.toString(8).padStart(4, '0') };
  }
  if (SYMBOLIC.test(s)) return { ok: true, mode: s };
  return {
    ok: false,
    error: `mode must be in octal or symbolic form, got: ${s} (e.g. '0644' or 'u=rw,g=r,o=r')`,
  };
}
