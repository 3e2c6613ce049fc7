/** Jinja2 and Ansible template globals: range, lookup/query/q, dict, namespace, omit... */
import { splitArgs } from './methods.js';
import { markNamespace } from './namespace.js';
import { OMIT_VALUE } from './omit.js';
import { type Dict, num, pyStr, truthy } from './python.js';

export interface GlobalHooks {
  lookup(name: string, terms: unknown[], kw: Dict, wantList: boolean): unknown;
}

function range(...args: unknown[]): number[] {
  const { pos } = splitArgs(args);
  let start = 0;
  let stop: number;
  let step = 1;
  if (pos.length === 1) stop = num(pos[0]);
  else {
    start = num(pos[0]);
    stop = num(pos[1]);
    if (pos.length > 2) step = num(pos[2]);
  }
  if (step === 0) throw new Error('range() arg 3 must not be zero');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) {
    out.push(i);
    if (out.length > 100_000) throw new Error('range too big, maximum is 100000');
  }
  return out;
}

export function buildGlobals(hooks: GlobalHooks): Dict {
  const callLookup =
    (wantListDefault: boolean) =>
    (...args: unknown[]) => {
      const { pos, kw } = splitArgs(args);
      const [name, ...terms] = pos;
      const wantList = wantListDefault || truthy(kw.wantlist ?? false);
      const rest = { ...kw };
      delete rest.wantlist;
      return hooks.lookup(pyStr(name), terms, rest, wantList);
    };
  return {
    range,
    lookup: callLookup(false),
    query: callLookup(true),
    q: callLookup(true),
    dict: (...args: unknown[]) => {
      const { pos, kw } = splitArgs(args);
      const out: Dict = {};
      if (pos[0] !== undefined) {
        if (Array.isArray(pos[0]))
          for (const p of pos[0]) out[pyStr((p as unknown[])[0])] = (p as unknown[])[1];
        else Object.assign(out, pos[0]);
      }
      return Object.assign(out, kw);
    },
    namespace: (...args: unknown[]) => {
      const { pos, kw } = splitArgs(args);
      return markNamespace(Object.assign({}, pos[0] ?? {}, kw));
    },
    omit: OMIT_VALUE,
    lipsum: () => 'Lorem ipsum dolor sit amet.',
    cycler: (...items: unknown[]) => {
      let i = 0;
      return {
        next: () => items[i++ % items.length],
        reset: () => {
          i = 0;
          return null;
        },
      };
    },
    joiner: (sep: unknown = ', ') => {
      let used = false;
      return () => {
        if (!used) {
          used = true;
          return '';
        }
        return pyStr(sep);
      };
    },
  };
}
