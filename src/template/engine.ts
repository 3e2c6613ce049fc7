/**
 * The Jinja engine: nunjucks' lexer, parser and code generator, with the expression compiler
 * re-targeted at Python semantics (see docs/adr/002-jinja-engine.md). Every operator, lookup,
 * truth test and output goes through `env.py.*` so one module (python.ts) decides behaviour.
 */
import nunjucks from 'nunjucks';
// An internal nunjucks module (typed in nunjucks-internals.d.ts), imported statically so the
// bundle (ADR 121) holds one copy of nunjucks.
import transformer from 'nunjucks/src/transformer.js';
import { getAttr, splitArgs } from './methods.js';
import { isNamespace } from './namespace.js';
import {
  compare,
  type Dict,
  makeFloat,
  makeTuple,
  pyAdd,
  pyConcat,
  pyDiv,
  pyFloorDiv,
  pyIn,
  pyIter,
  pyMod,
  pyMul,
  pyNeg,
  pyPow,
  pySlice,
  pyStr,
  pySub,
  truthy,
} from './python.js';
import { Undefined } from './undefined.js';

const SafeString = (nunjucks as unknown as { runtime: { SafeString: new (...a: unknown[]) => object } })
  .runtime.SafeString;

interface NjNode {
  typename: string;
  lineno: number;
  colno: number;
  [k: string]: unknown;
}
interface NjFrame {
  lookup(name: string): unknown;
}
interface NjContext {
  ctx: Dict;
}
interface NjCompilerProto {
  compile(node: NjNode, frame: unknown): void;
  _emit(code: string): void;
  _emitLine(code: string): void;
  compileSet(node: NjNode, frame: unknown): void;
  _compileExpression(node: NjNode, frame: unknown): void;
  _compileAggregate(node: NjNode, frame: unknown, start?: string, end?: string): void;
  fail(msg: string, lineno?: number, colno?: number): never;
  assertType(node: NjNode, ...types: unknown[]): void;
  getCode(): string;
  [k: string]: unknown;
}
type CompilerCtor = new (name: string, throwOnUndefined: boolean) => NjCompilerProto;

const nj = nunjucks as unknown as {
  compiler: { Compiler: CompilerCtor & { prototype: NjCompilerProto } };
  parser: { Parser: new (tokens: unknown) => { extensions: unknown[]; parseAsRoot(): NjNode } & Dict };
  lexer: { lex(src: string, opts: Dict): Dict };
  nodes: Dict;
  installJinjaCompat(): void;
};

// Slices (`x[1:]`) come from nunjucks' jinja-compat parser patch; its runtime patches are
// unused because every lookup is compiled to env.py.* below.
nj.installJinjaCompat();

const BaseCompiler = nj.compiler.Compiler;
const base = BaseCompiler.prototype;

function wrap(fn: string, children: NjNode[], at: NjNode): NjNode {
  return { typename: 'PyCall', fn, children, lineno: at.lineno, colno: at.colno };
}

const compareOps: Record<string, string> = {
  '==': '==',
  '===': '==',
  '!=': '!=',
  '!==': '!=',
  '<': '<',
  '>': '>',
  '<=': '<=',
  '>=': '>=',
};

/** Compiler methods that replace nunjucks' JavaScript-semantics code generation. */
const overrides: Record<
  string,
  (this: NjCompilerProto & { native?: boolean; known?: Known }, node: NjNode, frame: unknown) => void
> = {
  /** `{% for x in seq if cond %}`: the sequence filtered with the loop names bound to each item. */
  compilePyForFilter(node, frame) {
    const f = (frame as { push(): { set(n: string, v: string): void } }).push();
    const target = node.target as NjNode;
    const names =
      target.typename === 'Array'
        ? (target.children as NjNode[]).map((c) => String(c.value))
        : [String(target.value)];
    const item = (this._tmpid as () => string).call(this);
    this._emit('env.py.filterIter(');
    this._compileExpression(node.arr as NjNode, frame);
    this._emit(`, function(${item}) {`);
    names.forEach((n, i) => {
      const v = (this._tmpid as () => string).call(this);
      f.set(n, v);
      this._emit(`var ${v} = ${names.length > 1 ? `${item}[${i}]` : item};`);
    });
    this._emit('return env.py.truthy(');
    this._compileExpression(node.cond as NjNode, f);
    this._emit('); })');
  },
  /** Jinja's loop.previtem, loop.nextitem and loop.cycle besides nunjucks' own loop vars. */
  _emitLoopBindings(node, ...rest) {
    const [arr, i, len] = rest as unknown as [string, string, string];
    (base._emitLoopBindings as (...a: unknown[]) => void).call(this, node, arr, i, len);
    this._emit(
      `frame.set("loop.previtem", ${i} > 0 && Array.isArray(${arr}) ? ${arr}[${i} - 1] : env.py.undef("there is no previous item"));` +
        `frame.set("loop.nextitem", ${i} < ${len} - 1 && Array.isArray(${arr}) ? ${arr}[${i} + 1] : env.py.undef("there is no next item"));` +
        `frame.set("loop.cycle", function() { var a = Array.prototype.slice.call(arguments); return a[${i} % a.length]; });` +
        `frame.set("loop.depth", 1); frame.set("loop.depth0", 0);\n`,
    );
  },
  compilePyCall(node, frame) {
    this._emit(`env.py.${node.fn as string}(`);
    (node.children as NjNode[]).forEach((c, i) => {
      if (i > 0) this._emit(', ');
      this._compileExpression(c, frame);
    });
    this._emit(')');
  },
  compileSymbol(node, frame) {
    const name = node.value as string;
    if (name === 'True' || name === 'False') return this._emit(name === 'True' ? 'true' : 'false');
    if (name === 'None') return this._emit('null');
    const v = (frame as NjFrame).lookup(name);
    if (v) this._emit(v as string);
    else this._emit(`env.py.lookup(context, frame, ${JSON.stringify(name)})`);
  },
  compileLiteral(node, frame) {
    if (node.isFloat && typeof node.value === 'number') {
      this._emit(`env.py.float(${node.value})`);
      return;
    }
    (base.compileLiteral as (n: NjNode, f: unknown) => void).call(this, node, frame);
  },
  compileDict(node, frame) {
    const kwargs = node.typename === 'KeywordArgs';
    this._emit('env.py.dict([');
    for (const pair of node.children as NjNode[]) {
      const key = pair.key as NjNode;
      this._emit('[');
      // Keyword argument names are names, not variables; dict literal keys are expressions.
      if (kwargs && key.typename === 'Symbol') this._emit(JSON.stringify(key.value));
      else this._compileExpression(key, frame);
      this._emit(', ');
      this._compileExpression(pair.value as NjNode, frame);
      this._emit('],');
    }
    this._emit('])');
  },
  /** `{% set ns.attr = value %}`: Jinja's only attribute assignment, on namespace() objects. */
  compileSet(node, frame) {
    const targets = node.targets as NjNode[];
    const t = targets[0];
    if (targets.length !== 1 || t?.typename !== 'LookupVal' || !node.value) {
      for (const x of targets) {
        if (x.typename !== 'Symbol')
          this.fail(
            'can only assign to names or to a namespace attribute (ns.attr = value)',
            x.lineno,
            x.colno,
          );
      }
      if (targets.length > 1 && node.value) {
        // `{% set a, b = pair %}` unpacks, as in Python (nunjucks would give both the pair).
        const tmp = (this._tmpid as () => string).call(this);
        this._emit(`var ${tmp} = env.py.unpack(`);
        this._compileExpression(node.value as NjNode, frame);
        this._emitLine(`, ${targets.length});`);
        targets.forEach((target, i) => {
          const value: NjNode = {
            typename: 'PyRaw',
            code: `${tmp}[${i}]`,
            lineno: node.lineno,
            colno: node.colno,
          };
          base.compileSet.call(this, { ...node, targets: [target], value }, frame);
        });
        return;
      }
      base.compileSet.call(this, node, frame);
      return;
    }
    this._emit('env.py.setattr(');
    this._compileExpression(t.target as NjNode, frame);
    this._emit(', ');
    this._compileExpression(t.val as NjNode, frame);
    this._emit(', ');
    this._compileExpression(node.value as NjNode, frame);
    this._emitLine(');');
  },
  /** Code the compiler wrote itself (a temporary's element). */
  compilePyRaw(node) {
    this._emit(node.code as string);
  },
  /**
   * `{% with a = x, b = y %}...{% endwith %}`: the values are computed in the enclosing
   * scope, and the names, and anything `set` inside, live only in the block.
   */
  compilePyWith(node, frame) {
    const ids = (node.values as NjNode[]).map((v) => {
      const id = (this._tmpid as () => string).call(this);
      this._emit(`var ${id} = `);
      this._compileExpression(v, frame);
      this._emitLine(';');
      return id;
    });
    const inner = (frame as { push(isolate: boolean): { set(n: string, v: string): void } }).push(true);
    this._emitLine('frame = frame.push(true);');
    (node.targets as NjNode[]).forEach((t, i) => {
      inner.set(String(t.value), ids[i]!);
      this._emitLine(`frame.set(${JSON.stringify(String(t.value))}, ${ids[i]});`);
    });
    this.compile(node.body as NjNode, inner);
    this._emitLine('frame = frame.pop();');
  },
  compileLookupVal(node, frame) {
    const val = node.val as NjNode;
    if (val.typename === 'Slice') {
      this._emit('env.py.slice(');
      this._compileExpression(node.target as NjNode, frame);
      this._emit(', ');
      this._compileExpression(val.start as NjNode, frame);
      this._emit(', ');
      this._compileExpression(val.stop as NjNode, frame);
      this._emit(', ');
      this._compileExpression(val.step as NjNode, frame);
      this._emit(')');
      return;
    }
    this._emit('env.py.getattr(');
    this._compileExpression(node.target as NjNode, frame);
    this._emit(', ');
    this._compileExpression(val, frame);
    this._emit(')');
  },
  compileFunCall(node, frame) {
    this._emit(`(lineno = ${node.lineno}, colno = ${node.colno}, env.py.call(`);
    this._compileExpression(node.name as NjNode, frame);
    const name = (this._getNodeName as (n: unknown) => string).call(this, node.name);
    this._emit(`, ${JSON.stringify(name)}, context, `);
    this._compileAggregate(node.args as NjNode, frame, '[', '])');
    this._emit(')');
  },
  compileFilter(node, frame) {
    const name = (node.name as NjNode).value as string;
    if (this.known && !this.known.filters.has(name)) {
      this.fail(`No filter named '${name}'`, node.lineno, node.colno);
    }
    this._emit(`env.py.filter(${JSON.stringify(name)}, context, `);
    this._compileAggregate(node.args as NjNode, frame, '[', ']');
    this._emit(')');
  },
  compileIs(node, frame) {
    const right = node.right as NjNode;
    // `none`, `true` and `false` lex as literals; as test names they are names.
    const name = String((right.name as NjNode | undefined)?.value ?? right.value).replace(/^null$/, 'none');
    if (this.known && !this.known.tests.has(name))
      this.fail(`No test named '${name}'`, node.lineno, node.colno);
    this._emit(`env.py.test(${JSON.stringify(name)}, context, [`);
    this._compileExpression(node.left as NjNode, frame);
    if (right.args) {
      this._emit(', ');
      this._compileAggregate(right.args as NjNode, frame, '', '');
    }
    this._emit('])');
  },
  compileInlineIf(node, frame) {
    this._emit('(env.py.truthy(');
    this._compileExpression(node.cond as NjNode, frame);
    this._emit(') ? ');
    this._compileExpression(node.body as NjNode, frame);
    this._emit(' : ');
    if (node.else_) this._compileExpression(node.else_ as NjNode, frame);
    else
      this._emit(
        `env.py.undef("the inline if-expression on line ${node.lineno + 1} evaluated to false and no else section was defined.")`,
      );
    this._emit(')');
  },
  compileOr(node, frame) {
    this._emit('((t) => env.py.truthy(t) ? t : ');
    this._compileExpression(node.right as NjNode, frame);
    this._emit(')(');
    this._compileExpression(node.left as NjNode, frame);
    this._emit(')');
  },
  compileAnd(node, frame) {
    this._emit('((t) => env.py.truthy(t) ? ');
    this._compileExpression(node.right as NjNode, frame);
    this._emit(' : t)(');
    this._compileExpression(node.left as NjNode, frame);
    this._emit(')');
  },
  compileNot(node, frame) {
    this._emit('!env.py.truthy(');
    this._compileExpression(node.target as NjNode, frame);
    this._emit(')');
  },
  compileCompare(node, frame) {
    const ops = node.ops as NjNode[];
    // Python chains `a < b < c` as `a < b and b < c`.
    this._emit('env.py.compareChain(');
    this._compileExpression(node.expr as NjNode, frame);
    this._emit(', [');
    for (const op of ops) {
      this._emit(`[${JSON.stringify(compareOps[op.type as string] ?? op.type)}, `);
      this._compileExpression(op.expr as NjNode, frame);
      this._emit('],');
    }
    this._emit('])');
  },
  compileGroup(node, frame) {
    // `(a, b)` is a tuple in Python; JavaScript would evaluate it as the comma operator.
    if ((node.children as NjNode[]).length > 1) {
      this._emit('env.py.tuple(');
      this._compileAggregate(node, frame, '[', ']');
      this._emit(')');
    } else this._compileAggregate(node, frame, '(', ')');
  },
  compileIf(node, frame) {
    node.cond = wrap('truthy', [node.cond as NjNode], node);
    (base.compileIf as (n: NjNode, f: unknown) => void).call(this, node, frame);
  },
  compileFor(node, frame) {
    node.arr = wrap('iter', [node.arr as NjNode], node);
    (base.compileFor as (n: NjNode, f: unknown) => void).call(this, node, frame);
  },
  compileOutput(node, frame) {
    node.children = (node.children as NjNode[]).map((c) =>
      c.typename === 'TemplateData' ? c : wrap(this.native ? 'capture' : 'out', [c], c),
    );
    (base.compileOutput as (n: NjNode, f: unknown) => void).call(this, node, frame);
  },
};

for (const [op, fn] of [
  ['Add', 'add'],
  ['Sub', 'sub'],
  ['Mul', 'mul'],
  ['Div', 'div'],
  ['FloorDiv', 'floordiv'],
  ['Mod', 'mod'],
  ['Pow', 'pow'],
  ['Concat', 'concat'],
  ['In', 'inOp'],
] as const) {
  overrides[`compile${op}`] = function (node, frame) {
    this._emit(`env.py.${fn}(`);
    this._compileExpression(node.left as NjNode, frame);
    this._emit(', ');
    this._compileExpression(node.right as NjNode, frame);
    this._emit(')');
  };
}
overrides.compileNeg = function (node, frame) {
  this._emit('env.py.neg(');
  this._compileExpression(node.target as NjNode, frame);
  this._emit(')');
};

interface Known {
  filters: Set<string>;
  tests: Set<string>;
}

class PyCompiler extends BaseCompiler {
  native = false;
  known: Known | undefined;
}
for (const [k, f] of Object.entries(overrides)) (PyCompiler.prototype as unknown as Dict)[k] = f;
(PyCompiler.prototype as unknown as Dict).assertType = function (
  this: NjCompilerProto,
  node: NjNode,
  ...types: unknown[]
) {
  if (['PyCall', 'PyRaw', 'Slice', 'PyForFilter'].includes(node.typename)) return;
  base.assertType.call(this, node, ...types);
};

/* ---------------------------------------------------------------- lexing */

const simpleEscapes: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
  '\n': '',
};

interface Tokenizer {
  current(): string;
  forward(): void;
  isFinished(): boolean;
  nextToken(): { type: string } | null;
  _parseString(delimiter: string): string;
  str: string;
  index: number;
}

/**
 * Python string-literal rules (unknown escapes keep their backslash: '\d' stays \d), and
 * Ansible's playbook rule that literals inside `{{ }}` are taken raw (it doubles backslashes
 * before Jinja sees them, so regexes need one level of escaping, not two).
 */
function lex(src: string, opts: Dict, rawInVariables: boolean): Tokenizer {
  const t = nj.lexer.lex(src, opts) as unknown as Tokenizer;
  // nunjucks' back() reads this.src (a typo for this.str) when stepping back over a newline.
  (t as unknown as Dict).src = t.str;
  let inVar = false;
  const next = t.nextToken.bind(t);
  // Jinja balances braces, so `{{ {'a': {'b': 1}} }}` ends at the last `}}`, not the first.
  let braces = 0;
  let afterComment = false;
  t.nextToken = () => {
    const tok = next() as ({ type: string; value: string } & Dict) | null;
    // trim_blocks: Jinja drops the newline right after a comment, nunjucks keeps it.
    if (afterComment && tok?.type === 'data' && tok.value.startsWith('\n')) tok.value = tok.value.slice(1);
    afterComment = tok?.type === 'comment';
    if (tok?.type === 'variable-start') {
      inVar = true;
      braces = 0;
    } else if (tok?.type === 'variable-end') inVar = false;
    else if (tok?.type === 'left-curly') braces++;
    else if (tok?.type === 'right-curly') braces--;
    return tok;
  };
  const extract = (t as unknown as { _extractString(s: string): string | null })._extractString.bind(t);
  (t as unknown as { _extractString(s: string): string | null })._extractString = (str: string) =>
    braces > 0 && (str === '}}' || str === '-}}') ? null : extract(str);
  t._parseString = (delimiter: string) => {
    t.forward();
    let out = '';
    const raw = rawInVariables && inVar;
    while (!t.isFinished() && t.current() !== delimiter) {
      const c = t.current();
      if (c === '\\') {
        t.forward();
        const e = t.current();
        if (raw) {
          out += `\\${e}`;
        } else if (e in simpleEscapes) {
          out += simpleEscapes[e];
        } else if (e === 'x' || e === 'u' || e === 'U') {
          const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
          const hex = t.str.slice(t.index + 1, t.index + 1 + n);
          if (/^[0-9a-fA-F]+$/.test(hex) && hex.length === n) {
            out += String.fromCodePoint(Number.parseInt(hex, 16));
            for (let i = 0; i < n; i++) t.forward();
          } else out += `\\${e}`;
        } else {
          out += `\\${e}`;
        }
        t.forward();
      } else {
        out += c;
        t.forward();
      }
    }
    t.forward();
    return out;
  };
  return t;
}

/* ---------------------------------------------------------------- runtime */

export type Resolver = (name: string) => unknown;

export interface RenderFrame {
  resolve: Resolver;
  captured: unknown;
  hasCapture: boolean;
}

export type FilterFn = (value: unknown, args: unknown[], kw: Dict) => unknown;
export type TestFn = (value: unknown, args: unknown[], kw: Dict) => boolean;

export interface CompiledTemplate {
  native: boolean;
  /** Ends in a STRING_TYPE_FILTERS filter: Ansible keeps the text as text (NativeJinjaText). */
  textResult: boolean;
  render(frame: RenderFrame): string;
}

export interface EngineHooks {
  filters: Record<string, FilterFn>;
  /** Filters that accept an Undefined input (default, mandatory, ...). */
  undefinedOkFilters: Set<string>;
  tests: Record<string, TestFn>;
  globals: Dict;
  /**
   * Finds the template named by `{% include %}`, `{% import %}` or `{% from %}` in the
   * template `parent` (its path as given to compile); undefined when there is none.
   */
  resolveTemplate?: (name: string, parent: string | undefined) => { path: string; text: string } | undefined;
}

type NjEnvironment = nunjucks.Environment & { py: Dict; opts: Dict };

export class JinjaEngine {
  private readonly env: NjEnvironment;
  private readonly stack: RenderFrame[] = [];
  private readonly hooks: EngineHooks;
  private readonly known: Known;

  constructor(hooks: EngineHooks, loader?: nunjucks.ILoader) {
    this.hooks = hooks;
    // Ansible's environment: trim_blocks on, lstrip_blocks off, no autoescape.
    this.env = new nunjucks.Environment(loader ?? null, {
      autoescape: false,
      trimBlocks: true,
      lstripBlocks: false,
      throwOnUndefined: false,
      dev: true,
    } as nunjucks.ConfigureOptions) as NjEnvironment;
    this.known = { filters: new Set(Object.keys(hooks.filters)), tests: new Set(Object.keys(hooks.tests)) };
    this.env.py = this.runtime();
    // include/import compile through the Python-semantics compiler too, not nunjucks' own.
    const templates = new Map<string, nunjucks.Template>();
    (this.env as unknown as Dict).getTemplate = (
      name: unknown,
      _eager: unknown,
      parent: string | undefined,
      ignoreMissing: boolean,
      cb: (err: unknown, t?: unknown) => void,
    ) => {
      try {
        const found = hooks.resolveTemplate?.(String(name), parent === 'undefined' ? undefined : parent);
        if (!found) {
          if (ignoreMissing) return cb(null, this.compileTemplate('', String(name)));
          throw new Error(`template not found: ${String(name)}`);
        }
        const key = `${found.path}\0${found.text}`;
        let t = templates.get(key);
        if (!t) {
          t = this.compileTemplate(found.text, found.path);
          templates.set(key, t);
        }
        return cb(null, t);
      } catch (e) {
        return cb(e);
      }
    };
  }

  private top(): RenderFrame {
    const f = this.stack[this.stack.length - 1];
    if (!f) throw new Error('template rendered outside a render frame');
    return f;
  }

  private runtime(): Dict {
    const hooks = this.hooks;
    return {
      truthy,
      iter: pyIter,
      add: pyAdd,
      sub: pySub,
      mul: pyMul,
      div: pyDiv,
      floordiv: pyFloorDiv,
      mod: pyMod,
      pow: pyPow,
      neg: pyNeg,
      concat: pyConcat,
      inOp: pyIn,
      slice: pySlice,
      getattr: getAttr,
      setattr: (obj: unknown, key: unknown, value: unknown) => {
        if (!isNamespace(obj)) throw new Error('cannot assign attribute on non-namespace object');
        (obj as Dict)[pyStr(key)] = value;
      },
      float: makeFloat,
      undef: (msg: string) => new Undefined(msg),
      compareChain: (first: unknown, ops: [string, unknown][]) => {
        let left = first;
        for (const [op, right] of ops) {
          if (!compare(left, op, right)) return false;
          left = right;
        }
        return true;
      },
      dict: (pairs: [unknown, unknown][]) => {
        const out: Dict = {};
        for (const [k, v] of pairs) {
          if (k instanceof Undefined) k.fail();
          out[pyStr(k)] = v;
        }
        return out;
      },
      out: (v: unknown) => {
        if (v instanceof Undefined) v.fail();
        if (v === null || v === undefined) return '';
        return pyStr(v);
      },
      capture: (v: unknown) => {
        const f = this.top();
        f.captured = v;
        f.hasCapture = true;
        return '';
      },
      lookup: (context: NjContext, frame: NjFrame, name: string) => {
        const v = frame.lookup(name);
        if (v !== undefined) return v;
        if (Object.hasOwn(context.ctx, name)) return context.ctx[name];
        const r = this.top().resolve(name);
        if (r !== undefined) return r;
        if (Object.hasOwn(hooks.globals, name)) return hooks.globals[name];
        return Undefined.variable(name);
      },
      call: (fn: unknown, name: string, context: unknown, args: unknown[]) => {
        if (fn instanceof Undefined) fn.fail();
        if (typeof fn !== 'function') throw new TypeError(`'${name}' is not callable`);
        const r = (fn as (...a: unknown[]) => unknown).apply(context, args);
        // Macros return nunjucks SafeString objects; Jinja returns Markup, a str.
        return r instanceof SafeString ? String(r) : r;
      },
      tuple: (items: unknown[]) => makeTuple(items),
      unpack: (value: unknown, n: number) => {
        const items = pyIter(value);
        if (items.length > n) throw new Error(`too many values to unpack (expected ${n})`);
        if (items.length < n)
          throw new Error(`not enough values to unpack (expected ${n}, got ${items.length})`);
        return items;
      },
      filterIter: (seq: unknown, keep: (x: unknown) => boolean) => pyIter(seq).filter(keep),
      filter: (name: string, _context: unknown, args: unknown[]) => {
        const f = hooks.filters[name];
        if (!f) throw new Error(`No filter named '${name}'.`);
        const { pos, kw } = splitArgs(args);
        const [value, ...rest] = pos;
        if (value instanceof Undefined && !hooks.undefinedOkFilters.has(name)) value.fail();
        for (const a of rest) if (a instanceof Undefined) a.fail();
        return f(value, rest, kw);
      },
      test: (name: string, _context: unknown, args: unknown[]) => {
        const t = hooks.tests[name];
        if (!t) throw new Error(`No test named '${name}'.`);
        const { pos, kw } = splitArgs(args);
        const [value, ...rest] = pos;
        return t(value, rest, kw);
      },
    };
  }

  /** Parse and compile once; the result renders any number of times. */
  private compileTemplate(src: string, name: string): nunjucks.Template {
    return this.compileParts(src, { name, rawStrings: false }).tmpl;
  }

  private compileParts(
    src: string,
    opts: { name?: string; native?: boolean; rawStrings: boolean },
  ): { tmpl: nunjucks.Template; native: boolean; textResult: boolean } {
    src = trimAfterCommentsAndRaw(src);
    const tokens = lex(src, this.env.opts, opts.rawStrings);
    const parser = new nj.parser.Parser(tokens);
    parser.extensions = [withTag];
    markFloats(parser);
    const ast = parser.parseAsRoot();
    const native = opts.native === true && isSingleExpression(ast);
    const textResult = native && endsWithStringFilter(ast);
    const c = new PyCompiler(opts.name ?? 'template', false);
    c.native = native;
    c.known = this.known;
    c.compile(transformer.transform(ast, [], opts.name) as NjNode, undefined);
    const code = c.getCode();
    const props = new Function(code)() as Dict;
    const Template = nunjucks.Template as unknown as new (
      src: { type: 'code'; obj: Dict },
      env: nunjucks.Environment,
      path: string | undefined,
      eager: boolean,
    ) => nunjucks.Template;
    const tmpl = new Template({ type: 'code', obj: props }, this.env, opts.name, true);
    return { tmpl, native, textResult };
  }

  compile(src: string, opts: { name?: string; native?: boolean; rawStrings: boolean }): CompiledTemplate {
    const { tmpl, native, textResult } = this.compileParts(src, opts);
    return {
      native,
      textResult,
      render: (frame: RenderFrame) => {
        this.stack.push(frame);
        try {
          return tmpl.render({});
        } finally {
          this.stack.pop();
        }
      },
    };
  }
}

/**
 * Jinja's trim_blocks also eats the newline after `{% endraw %}` (nunjucks does not);
 * moving that newline inside the tag keeps line numbers right. Comments: see lex().
 */
function trimAfterCommentsAndRaw(src: string): string {
  if (!src.includes('endraw')) return src;
  return src.replace(/\{%(-?\s*endraw\s*)%\}\n/g, '{%$1\n%}');
}

/** A template that is exactly one `{{ expr }}` (Ansible keeps that value's type). */
function isSingleExpression(root: NjNode): boolean {
  const children = root.children as NjNode[];
  if (children.length !== 1 || children[0]!.typename !== 'Output') return false;
  const out = children[0]!.children as NjNode[];
  return out.length === 1 && out[0]!.typename !== 'TemplateData';
}

const STRING_TYPE_FILTERS = new Set([
  'string',
  'to_json',
  'to_nice_json',
  'to_yaml',
  'to_nice_yaml',
  'ppretty',
  'json',
]);

function endsWithStringFilter(root: NjNode): boolean {
  const expr = ((root.children as NjNode[])[0]!.children as NjNode[])[0]!;
  if (expr.typename !== 'Filter') return false;
  const name = String((expr.name as NjNode).value).replace(/^ansible\.builtin\./, '');
  return STRING_TYPE_FILTERS.has(name);
}

interface NjParser {
  peekToken(): { type: string; value: string; lineno: number; colno: number } | null;
  skip(type: string): boolean;
  skipValue(type: string, value: string): boolean;
  skipSymbol(value: string): boolean;
  advanceAfterBlockEnd(name?: string): void;
  parseUntilBlocks(...names: string[]): NjNode;
  parsePrimary(): NjNode;
  parseExpression(): NjNode;
  fail(msg: string, lineno?: number, colno?: number): never;
}
type NjLexer = Record<'TOKEN_BLOCK_END' | 'TOKEN_COMMA' | 'TOKEN_OPERATOR', string>;

/** Jinja's `{% with %}` (nunjucks has none): parsed to a PyWith node, see compilePyWith. */
const withTag = {
  tags: ['with'],
  parse(p: NjParser, _nodes: unknown, lexer: NjLexer): NjNode {
    const tag = p.peekToken()!;
    p.skipSymbol('with');
    const targets: NjNode[] = [];
    const values: NjNode[] = [];
    while (p.peekToken()?.type !== lexer.TOKEN_BLOCK_END) {
      if (targets.length > 0 && !p.skip(lexer.TOKEN_COMMA))
        p.fail('expected a comma between the assignments of with');
      const target = p.parsePrimary();
      if (target.typename !== 'Symbol') p.fail('with can only assign to names', target.lineno, target.colno);
      if (!p.skipValue(lexer.TOKEN_OPERATOR, '='))
        p.fail(`expected '=' after ${String(target.value)} in with`);
      targets.push(target);
      values.push(p.parseExpression());
    }
    p.advanceAfterBlockEnd(tag.value);
    const body = p.parseUntilBlocks('endwith');
    p.advanceAfterBlockEnd();
    return { typename: 'PyWith', targets, values, body, lineno: tag.lineno, colno: tag.colno };
  },
};

/** nunjucks parses `1.0` to the number 1; remember it was a float so it prints as 1.0. */
function markFloats(parser: Dict): void {
  const parsePrimary = parser.parsePrimary as (noPostfix?: boolean) => NjNode;
  const peekToken = parser.peekToken as () => { type: string } | null;
  parser.parsePrimary = function (this: Dict, noPostfix?: boolean) {
    const tok = peekToken.call(this);
    const node = parsePrimary.call(this, noPostfix);
    if (tok?.type === 'float' && node.typename === 'Literal') node.isFloat = true;
    return node;
  };
  const nodes = nj.nodes as Record<string, new (...a: unknown[]) => NjNode>;
  // nunjucks' postfix parser, plus Jinja's integer attribute (`item.0` is item[0]).
  parser.parsePostfix = function (this: Dict, start: NjNode) {
    let node = start;
    let tok = peekToken.call(this) as { type: string; value: string; lineno: number; colno: number } | null;
    while (tok) {
      if (tok.type === 'left-paren') {
        node = new nodes.FunCall!(
          tok.lineno,
          tok.colno,
          node,
          (this.parseSignature as () => NjNode).call(this),
        );
      } else if (tok.type === 'left-bracket') {
        const lookup = (this.parseAggregate as () => NjNode).call(this);
        if ((lookup.children as NjNode[]).length > 1)
          (this.fail as (m: string) => never).call(this, 'invalid index');
        node = new nodes.LookupVal!(tok.lineno, tok.colno, node, (lookup.children as NjNode[])[0]);
      } else if (tok.type === 'operator' && tok.value === '.') {
        (this.nextToken as () => unknown).call(this);
        // `item.0.name` lexes as `item`, `.`, `0.` (a float), `name`: Jinja reads no float after a dot.
        let pendingDot = true;
        while (pendingDot) {
          pendingDot = false;
          const val = (this.nextToken as () => typeof tok).call(this);
          if (!val || !['symbol', 'int', 'float'].includes(val.type))
            (this.fail as (m: string, l?: number, c?: number) => never).call(
              this,
              `expected name as lookup value, got ${val?.value}`,
              val?.lineno,
              val?.colno,
            );
          const keys: (string | number)[] =
            val!.type === 'symbol'
              ? [val!.value]
              : val!.value
                  .split('.')
                  .filter((k) => k !== '')
                  .map(Number);
          if (val!.type === 'float' && val!.value.endsWith('.')) pendingDot = true;
          for (const key of keys)
            node = new nodes.LookupVal!(
              tok.lineno,
              tok.colno,
              node,
              new nodes.Literal!(val!.lineno, val!.colno, key),
            );
        }
      } else break;
      tok = peekToken.call(this) as typeof tok;
    }
    return node;
  };
  // `{% for x in seq if cond %}` parses as a for over an else-less inline if: undo that.
  const parseFor = parser.parseFor as () => NjNode;
  parser.parseFor = function (this: Dict) {
    const node = parseFor.call(this);
    const arr = node.arr as NjNode | undefined;
    if (arr?.typename === 'InlineIf' && !arr.else_) {
      node.arr = {
        typename: 'PyForFilter',
        arr: arr.body,
        cond: arr.cond,
        target: node.name,
        lineno: arr.lineno,
        colno: arr.colno,
      } as NjNode;
    }
    return node;
  };
  // Jinja's test call forms: `x is name`, `x is name(args)` and `x is name arg` (one argument
  // without parentheses, as in `3 is in nums` or `n is divisibleby 3`).
  const argStart = new Set([
    'symbol',
    'string',
    'int',
    'float',
    'boolean',
    'none',
    'left-bracket',
    'left-curly',
  ]);
  parser.parseIs = function (this: Dict) {
    let node = (this.parseCompare as () => NjNode).call(this);
    const skip = this.skipSymbol as (s: string) => boolean;
    if (skip.call(this, 'is')) {
      const not = skip.call(this, 'not');
      let test = (this.parsePrimary as (noPostfix?: boolean) => NjNode).call(this, true);
      const tok = peekToken.call(this) as { type: string; value?: string } | null;
      if (tok?.type === 'left-paren') {
        test = (this.parsePostfix as (n: NjNode) => NjNode).call(this, test);
      } else if (
        tok &&
        argStart.has(tok.type) &&
        !['else', 'or', 'and', 'is', 'if'].includes(String(tok.value))
      ) {
        const arg = (this.parsePrimary as () => NjNode).call(this);
        test = new nodes.FunCall!(
          test.lineno,
          test.colno,
          test,
          new nodes.NodeList!(arg.lineno, arg.colno, [arg]),
        );
      }
      node = new nodes.Is!(node.lineno, node.colno, node, test);
      if (not) node = new nodes.Not!(node.lineno, node.colno, node);
    }
    return node;
  };
}
