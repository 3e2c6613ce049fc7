/**
 * References inside `{{ ... }}` / `{% ... %}` expressions: `var.x`, `local.y`, `module.m.out`,
 * `data.T.N`, `T.N` (a resource), `count.index`, `each.key`. They give the implicit
 * dependencies between blocks, and are checked before anything is evaluated.
 */

export interface Ref {
  /** `var`, `local`, `module`, `data`, `resource`, `count`, `each`, `self`, `path`. */
  kind: string;
  /** Graph-local key: `var.x`, `local.y`, `module.m.out`, `data.T.N`, `T.N`. */
  key: string;
  /** The text as written, for messages. */
  text: string;
}

const BLOCK = /\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g;
const STRINGS = /'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g;
const CHAIN = /(?<![\w.])([A-Za-z_]\w*)((?:\s*\.\s*[A-Za-z_][\w-]*|\s*\[\s*(?:\d+|'[^']*'|"[^"]*")\s*\])*)/g;
const SEG = /\.\s*([A-Za-z_][\w-]*)|\[\s*(\d+|'[^']*'|"[^"]*")\s*\]/g;

function segments(rest: string): string[] {
  const out: string[] = [];
  for (const m of rest.matchAll(SEG)) out.push(m[1] ?? m[2]!.replace(/^['"]|['"]$/g, ''));
  return out;
}

/** Every reference in the strings of a value; `isType(name)` says which names are resource types. */
export function findRefs(value: unknown, isType: (name: string) => boolean): Ref[] {
  const out: Ref[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === 'string') {
      for (const b of v.matchAll(BLOCK)) scanExpr((b[1] ?? b[2] ?? '').replace(STRINGS, '""'), isType, out);
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(value);
  return out;
}

function scanExpr(expr: string, isType: (name: string) => boolean, out: Ref[]): void {
  for (const m of expr.matchAll(CHAIN)) {
    const head = m[1]!;
    const segs = segments(m[2] ?? '');
    const text = `${head}${(m[2] ?? '').replace(/\s+/g, '')}`;
    switch (head) {
      case 'var':
      case 'local':
        if (segs[0]) out.push({ kind: head, key: `${head}.${segs[0]}`, text });
        break;
      case 'module':
        if (segs[0])
          out.push({
            kind: 'module',
            key: segs[1] ? `module.${segs[0]}.${segs[1]}` : `module.${segs[0]}`,
            text,
          });
        break;
      case 'data':
        if (segs[0] && segs[1]) out.push({ kind: 'data', key: `data.${segs[0]}.${segs[1]}`, text });
        break;
      case 'count':
      case 'each':
      case 'self':
      case 'path':
        out.push({ kind: head, key: head, text });
        break;
      default:
        if (isType(head) && segs[0]) out.push({ kind: 'resource', key: `${head}.${segs[0]}`, text });
    }
  }
}
