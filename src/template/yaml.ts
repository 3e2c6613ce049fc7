/**
 * PyYAML's dump layout, as Ansible's to_yaml (flow style for innermost collections) and
 * to_nice_yaml (block style, indent 4, list dashes not indented) print it.
 */
import { type Dict, isDict, PyFloat, pyStr } from './python.js';

const PLAIN_UNSAFE =
  /^$|^[\s\-?:,[\]{}#&*!|>'"%@`]|[\s]$|: |\s#|^(true|false|yes|no|on|off|null|~)$|^[-+]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?$|^0[xob]|^\.(inf|nan)$|[\n\t\x00-\x08]/i;

/** PyYAML dumps mappings with sorted keys (sort_keys=True). */
function sortedEntries(d: Dict): [string, unknown][] {
  return Object.entries(d).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * PyYAML's single-quoted style for text with line breaks: each break is written as an empty
 * line plus the break, and continuation lines are indented to `indent`.
 */
function singleQuotedMultiline(s: string, indent: number): string {
  const pad = ' '.repeat(indent);
  const body = s.replace(/'/g, "''").replace(/\n+/g, (br) => `\n${br}${pad}`);
  return `'${body}'`;
}

function scalar(v: unknown, indent = 0): string {
  if (v === null || v === undefined) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (v instanceof PyFloat || typeof v === 'number') return pyStr(v);
  const s = String(v);
  if (!PLAIN_UNSAFE.test(s) && !s.includes(': ') && !s.endsWith(':')) return s;
  // analyze_scalar: breaks followed by spaces, edge spaces or special characters force double quotes.
  if (
    s.includes('\n') &&
    !/\n /.test(s) &&
    !/^\s|\s$/.test(s) &&
    !/[\x00-\x08\t\x0b-\x1f]/.test(s) &&
    !/[^\x20-\x7e\u00a0-\uffff\n]/.test(s)
  )
    return singleQuotedMultiline(s, indent);
  if (/[\n\x00-\x08\t]/.test(s) || /[^\x20-\x7e\u00a0-\uffff]/.test(s)) return JSON.stringify(s);
  return `'${s.replace(/'/g, "''")}'`;
}

function flowValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(flowValue).join(', ')}]`;
  if (isDict(v))
    return `{${sortedEntries(v)
      .map(([k, x]) => `${scalar(k)}: ${flowValue(x)}`)
      .join(', ')}}`;
  return scalar(v);
}

function isLeafCollection(v: unknown): boolean {
  if (Array.isArray(v)) return v.every((x) => !Array.isArray(x) && !isDict(x));
  if (isDict(v)) return Object.values(v).every((x) => !Array.isArray(x) && !isDict(x));
  return false;
}

export function dumpYaml(v: unknown, opts: { flow: boolean; indent: number }): string {
  const ind = opts.indent;
  const lines: string[] = [];
  const emit = (x: unknown, level: number): void => {
    const pad = ' '.repeat(level);
    if (Array.isArray(x)) {
      for (const item of x) {
        if (
          (Array.isArray(item) || isDict(item)) &&
          !(opts.flow && isLeafCollection(item)) &&
          (Array.isArray(item) ? item.length : Object.keys(item).length)
        ) {
          const sub: string[] = [];
          const save = lines.length;
          emit(item, level + ind);
          sub.push(...lines.splice(save));
          const first = sub[0]!.slice(level + ind);
          lines.push(`${pad}-${' '.repeat(ind - 1)}${first}`, ...sub.slice(1));
        } else lines.push(`${pad}- ${value(item, level + ind)}`);
      }
      return;
    }
    for (const [k, item] of sortedEntries(x as Dict)) {
      if (
        (Array.isArray(item) || isDict(item)) &&
        !(opts.flow && isLeafCollection(item)) &&
        (Array.isArray(item) ? item.length : Object.keys(item).length)
      ) {
        lines.push(`${pad}${scalar(k)}:`);
        emit(item, Array.isArray(item) ? level : level + ind);
      } else lines.push(`${pad}${scalar(k)}: ${value(item, level + ind)}`);
    }
  };
  const value = (x: unknown, indent = 0): string =>
    Array.isArray(x) || isDict(x) ? flowValue(x) : scalar(x, indent);
  if (
    (Array.isArray(v) || isDict(v)) &&
    !(opts.flow && isLeafCollection(v)) &&
    (Array.isArray(v) ? v.length : Object.keys(v).length)
  ) {
    emit(v, 0);
    return `${lines.join('\n')}\n`;
  }
  const s = value(v);
  return Array.isArray(v) || isDict(v) ? `${s}\n` : `${s}\n...\n`;
}
