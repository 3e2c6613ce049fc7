/** Jinja2 builtin tests and Ansible's tests (ansible.builtin.*). */
import { existsSync, lstatSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { TestFn } from './engine.js';
import { testsRef, versionCompare } from './filters.js';
import { type Dict, isDict, isFloat, isNumber, num, pyEq, pyIn, pyIter, pyStr, truthy } from './python.js';
import { pyRegex } from './regex.js';
import { Undefined } from './undefined.js';

function live(v: unknown): unknown {
  if (v instanceof Undefined) v.fail();
  return v;
}

function result(v: unknown): Dict {
  const r = live(v);
  if (!isDict(r)) throw new Error('The task result test plugins expect a dictionary (a registered result)');
  return r;
}

function failed(r: Dict): boolean {
  return truthy(r.failed ?? false) || (r.rc !== undefined && r.rc !== 0 && r.failed === undefined && false);
}

function regexTest(kind: 'match' | 'search' | 'fullmatch') {
  return (v: unknown, a: unknown[], kw: Dict): boolean => {
    const s = pyStr(live(v));
    const re = pyRegex(pyStr(a[0] ?? kw.pattern), {
      ignorecase: truthy(a[1] ?? kw.ignorecase ?? false),
      multiline: truthy(a[2] ?? kw.multiline ?? false),
      global: false,
    });
    const m = re.exec(s);
    if (!m) return false;
    if (kind === 'match') {
      const anchored = new RegExp(`^(?:${re.source})`, re.flags.replace('m', ''));
      return anchored.test(s);
    }
    if (kind === 'fullmatch') return new RegExp(`^(?:${re.source})$`, re.flags.replace('m', '')).test(s);
    return true;
  };
}

export function buildTests(opts: { cwd: () => string }): Record<string, TestFn> {
  const path = (v: unknown) => {
    const p = pyStr(live(v));
    return isAbsolute(p) ? p : resolve(opts.cwd(), p);
  };
  const tests: Record<string, TestFn> = {
    defined: (v) => !(v instanceof Undefined),
    undefined: (v) => v instanceof Undefined,
    none: (v) => v === null,
    string: (v) => typeof v === 'string',
    number: (v) => isNumber(v) || typeof v === 'boolean',
    integer: (v) => typeof v === 'number' && Number.isInteger(v),
    float: (v) => isFloat(v),
    boolean: (v) => typeof v === 'boolean',
    true: (v) => v === true,
    false: (v) => v === false,
    mapping: (v) => isDict(v),
    iterable: (v) => typeof v === 'string' || Array.isArray(v) || isDict(v),
    sequence: (v) => typeof v === 'string' || Array.isArray(v) || isDict(v),
    callable: (v) => typeof v === 'function',
    sameas: (v, a) => v === a[0],
    lower: (v) => typeof v === 'string' && v === v.toLowerCase(),
    upper: (v) => typeof v === 'string' && v === v.toUpperCase(),
    even: (v) => num(live(v)) % 2 === 0,
    odd: (v) => Math.abs(num(live(v)) % 2) === 1,
    divisibleby: (v, a) => num(live(v)) % num(a[0]) === 0,
    equalto: (v, a) => pyEq(live(v), a[0]),
    eq: (v, a) => pyEq(live(v), a[0]),
    '==': (v, a) => pyEq(live(v), a[0]),
    ne: (v, a) => !pyEq(live(v), a[0]),
    '!=': (v, a) => !pyEq(live(v), a[0]),
    lt: (v, a) => num(live(v)) < num(a[0]),
    '<': (v, a) => num(live(v)) < num(a[0]),
    le: (v, a) => num(live(v)) <= num(a[0]),
    '<=': (v, a) => num(live(v)) <= num(a[0]),
    gt: (v, a) => num(live(v)) > num(a[0]),
    '>': (v, a) => num(live(v)) > num(a[0]),
    ge: (v, a) => num(live(v)) >= num(a[0]),
    '>=': (v, a) => num(live(v)) >= num(a[0]),
    greaterthan: (v, a) => num(live(v)) > num(a[0]),
    lessthan: (v, a) => num(live(v)) < num(a[0]),
    in: (v, a) => pyIn(live(v), a[0]),
    contains: (v, a) => pyIn(a[0], live(v)),
    match: regexTest('match'),
    search: regexTest('search'),
    regex: (v, a, kw) => {
      const mt = pyStr(kw.match_type ?? a[3] ?? 'search');
      return regexTest(mt === 'match' ? 'match' : mt === 'fullmatch' ? 'fullmatch' : 'search')(v, a, kw);
    },
    version: (v, a, kw) =>
      versionCompare(
        live(v),
        a[0] ?? kw.version,
        a[1] ?? kw.operator ?? 'eq',
        truthy(a[2] ?? kw.strict ?? false),
        kw.version_type,
      ),
    version_compare: (v, a, kw) =>
      versionCompare(
        live(v),
        a[0] ?? kw.version,
        a[1] ?? kw.operator ?? 'eq',
        truthy(a[2] ?? kw.strict ?? false),
        kw.version_type,
      ),
    subset: (v, a) => pyIter(live(v)).every((x) => pyIter(a[0]).some((y) => pyEq(x, y))),
    issubset: (v, a) => pyIter(live(v)).every((x) => pyIter(a[0]).some((y) => pyEq(x, y))),
    superset: (v, a) => pyIter(a[0]).every((x) => pyIter(live(v)).some((y) => pyEq(x, y))),
    issuperset: (v, a) => pyIter(a[0]).every((x) => pyIter(live(v)).some((y) => pyEq(x, y))),
    any: (v) => pyIter(live(v)).some(truthy),
    all: (v) => pyIter(live(v)).every(truthy),
    truthy: (v) => truthy(live(v)),
    falsy: (v) => !truthy(live(v)),
    nan: (v) => Number.isNaN(num(live(v))),
    failed: (v) => failed(result(v)),
    failure: (v) => failed(result(v)),
    succeeded: (v) => !failed(result(v)),
    success: (v) => !failed(result(v)),
    successful: (v) => !failed(result(v)),
    changed: (v) => truthy(result(v).changed ?? false),
    change: (v) => truthy(result(v).changed ?? false),
    skipped: (v) => truthy(result(v).skipped ?? false),
    skip: (v) => truthy(result(v).skipped ?? false),
    finished: (v) => truthy(result(v).finished ?? 1),
    started: (v) => truthy(result(v).started ?? 1),
    unreachable: (v) => truthy(result(v).unreachable ?? false),
    reachable: (v) => !truthy(result(v).unreachable ?? false),
    abs: (v) => isAbsolute(pyStr(live(v))),
    exists: (v) => existsSync(path(v)),
    file: (v) => {
      try {
        return statSync(path(v)).isFile();
      } catch {
        return false;
      }
    },
    directory: (v) => {
      try {
        return statSync(path(v)).isDirectory();
      } catch {
        return false;
      }
    },
    link: (v) => {
      try {
        return lstatSync(path(v)).isSymbolicLink();
      } catch {
        return false;
      }
    },
    mount: (v) => {
      const p = path(v);
      try {
        if (p === '/') return true;
        return statSync(p).dev !== statSync(resolve(p, '..')).dev;
      } catch {
        return false;
      }
    },
    same_file: (v, a) => {
      try {
        const x = statSync(path(v));
        const y = statSync(path(a[0]));
        return x.ino === y.ino && x.dev === y.dev;
      } catch {
        return false;
      }
    },
    vault_encrypted: (v) => typeof v === 'string' && v.startsWith('$ANSIBLE_VAULT;'),
  };
  testsRef.current = tests;
  return tests;
}
