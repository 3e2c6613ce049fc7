/**
 * JSON as Python's json.dumps prints it (", " and ": " separators, sort_keys, ensure_ascii
 * off as Ansible's callback uses), so drover's human output matches ansible-playbook's.
 */
export function pyJson(value: unknown, opts: { indent?: number; sortKeys?: boolean } = {}): string {
  const sortKeys = opts.sortKeys ?? true;
  const indent = opts.indent;
  const seen = new Set<unknown>();
  const enc = (v: unknown, depth: number): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'number')
      return Number.isFinite(v) ? String(v) : v > 0 ? 'Infinity' : v < 0 ? '-Infinity' : 'NaN';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'object') {
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function' && !Array.isArray(v)) {
        return enc((v as { toJSON: () => unknown }).toJSON(), depth);
      }
      if (seen.has(v)) return '"<cycle>"';
      seen.add(v);
      const pad = indent === undefined ? '' : `\n${' '.repeat(indent * (depth + 1))}`;
      const end = indent === undefined ? '' : `\n${' '.repeat(indent * depth)}`;
      const sep = indent === undefined ? ', ' : ',';
      let out: string;
      if (Array.isArray(v)) {
        out = v.length === 0 ? '[]' : `[${pad}${v.map((x) => enc(x, depth + 1)).join(sep + pad)}${end}]`;
      } else {
        let keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
        if (sortKeys) keys = keys.sort();
        out =
          keys.length === 0
            ? '{}'
            : `{${pad}${keys.map((k) => `${JSON.stringify(k)}: ${enc((v as Record<string, unknown>)[k], depth + 1)}`).join(sep + pad)}${end}}`;
      }
      seen.delete(v);
      return out;
    }
    return JSON.stringify(String(v));
  };
  return enc(value, 0);
}
