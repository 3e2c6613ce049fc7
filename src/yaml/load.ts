/**
 * YAML loading shared by inventory, playbooks, vars files and templates: Ansible's YAML
 * dialect (YAML 1.1 booleans like `yes`/`no`, `!vault` and `!unsafe` tags) with source
 * positions, and every syntax error reported as file:line:col.
 */
import YAML, { isMap, isScalar, isSeq, LineCounter, type Node, type ParsedNode, type Tags } from 'yaml';
import type { Problem, SourcePos } from '../errors.js';

/** A value decrypted from an inline `!vault` block; its plaintext is registered for masking. */
export class VaultString {
  constructor(
    readonly plaintext: string,
    readonly ciphertext: string,
  ) {}
  toString(): string {
    return this.plaintext;
  }
  toJSON(): string {
    return this.plaintext;
  }
}

/** A `!unsafe` string: never templated. */
export class UnsafeString {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
  toJSON(): string {
    return this.value;
  }
}

export interface YamlLoadOptions {
  /** Decrypts an inline `!vault` value; `where` is file:line:col for error messages. */
  decryptVault?: (ciphertext: string, where: string) => string;
}

export interface LoadedYaml {
  /** One value per YAML document (plain JS: maps become objects). */
  docs: unknown[];
  /** Parsed documents with nodes, for looking up positions. */
  nodes: (ParsedNode | null)[];
  lineCounter: LineCounter;
  file: string;
  problems: Problem[];
}

/**
 * PyYAML's implicit resolvers differ from the `yaml` package's YAML 1.1 schema in two places
 * that change values users write every day: `y`/`n` (and `Y`/`N`) stay strings, and a float
 * needs a dot, with a signed exponent (`1e3` and `1.0e3` are strings, `1.0e+3` is 1000.0);
 * and a decimal int never starts with 0 (`08` is a string).
 */
const PYYAML_BOOL_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const PYYAML_BOOL_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;
const PYYAML_FLOAT = /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?)$/;

const PYYAML_INT_DEC = /^[-+]?(?:0|[1-9][0-9_]*)$/;
const PYYAML_INT_SEXAGESIMAL = /^[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+$/;

type ScalarTag = Exclude<Tags[number], string> & { test?: RegExp; resolve?: unknown };

function pyyamlScalars(defaults: Tags): Tags {
  const out: Tags = [];
  let floatDone = false;
  for (const t of defaults) {
    if (typeof t === 'string') {
      out.push(t);
      continue;
    }
    const tag = t as ScalarTag;
    if (tag.tag === 'tag:yaml.org,2002:bool' && tag.test) {
      const truthy = tag.test.test('true');
      out.push({ ...tag, test: truthy ? PYYAML_BOOL_TRUE : PYYAML_BOOL_FALSE } as Tags[number]);
    } else if (
      tag.tag === 'tag:yaml.org,2002:float' &&
      tag.test &&
      (tag.test.test('1.5') || tag.test.test('1e3'))
    ) {
      // The two decimal/exponent float resolvers become one with PyYAML's rule.
      if (!floatDone) out.push({ ...tag, test: PYYAML_FLOAT } as Tags[number]);
      floatDone = true;
    } else if (tag.tag === 'tag:yaml.org,2002:int' && tag.test?.test('08')) {
      // `08` is a string for PyYAML: a decimal int starts with 1-9 (or is 0)
      out.push({ ...tag, test: PYYAML_INT_DEC } as Tags[number]);
    } else if (tag.tag === 'tag:yaml.org,2002:int' && tag.test?.test('0:30')) {
      out.push({ ...tag, test: PYYAML_INT_SEXAGESIMAL } as Tags[number]);
    } else {
      out.push(t);
    }
  }
  return out;
}

function tagsFor(file: string, opts: YamlLoadOptions): (defaults: Tags) => Tags {
  return (defaults) => [
    ...pyyamlScalars(defaults),
    {
      tag: '!vault',
      resolve(value: string) {
        const text = value.trim();
        if (!opts.decryptVault) return new VaultString(text, text);
        return new VaultString(opts.decryptVault(text, file), text);
      },
    },
    {
      tag: '!unsafe',
      resolve(value: string) {
        return new UnsafeString(value);
      },
    },
  ];
}

export function loadYaml(text: string, file: string, opts: YamlLoadOptions = {}): LoadedYaml {
  const lineCounter = new LineCounter();
  const problems: Problem[] = [];
  const parsed = YAML.parseAllDocuments(text, {
    lineCounter,
    version: '1.1', // Ansible uses PyYAML: yes/no/on/off are booleans
    customTags: tagsFor(file, opts),
    uniqueKeys: false, // Ansible warns and takes the last value
    prettyErrors: false,
  });
  const docs: unknown[] = [];
  const nodes: (ParsedNode | null)[] = [];
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const doc of list) {
    for (const err of doc.errors) {
      // With prettyErrors off the parser leaves linePos unset: derive it from the offset.
      const lp = err.linePos?.[0] ?? (err.pos ? lineCounter.linePos(err.pos[0]) : undefined);
      const [line, col] = lp ? [lp.line, lp.col] : [1, 1];
      problems.push({
        message: `YAML syntax error: ${firstLine(err.message)}`,
        pos: { file, line, col },
        severity: 'error',
      });
    }
    if (doc.errors.length > 0) continue;
    try {
      docs.push(doc.toJS({ maxAliasCount: 10_000 }));
      nodes.push(doc.contents as ParsedNode | null);
    } catch (e) {
      const range = doc.contents?.range;
      const p = range ? lineCounter.linePos(range[0]) : { line: 1, col: 1 };
      problems.push({
        message: (e as Error).message,
        pos: { file, line: p.line, col: p.col },
        severity: 'error',
      });
    }
  }
  return { docs, nodes, lineCounter, file, problems };
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** Source position of a node's start. */
export function posOf(node: Node | null | undefined, y: Pick<LoadedYaml, 'file' | 'lineCounter'>): SourcePos {
  const off = node?.range?.[0] ?? 0;
  const p = y.lineCounter.linePos(off);
  return { file: y.file, line: p.line, col: p.col };
}

/** The node of `key` in a map node, and the key node itself (for positions of keys). */
export function mapEntry(
  node: Node | null | undefined,
  key: string,
): { key: Node; value: Node | null } | undefined {
  if (!isMap(node)) return undefined;
  for (const pair of node.items) {
    const k = pair.key as Node;
    if (isScalar(k) && String(k.value) === key) return { key: k, value: (pair.value as Node | null) ?? null };
  }
  return undefined;
}

/** The i-th item node of a sequence node. */
export function seqItem(node: Node | null | undefined, i: number): Node | null | undefined {
  return isSeq(node) ? (node.items[i] as Node | null) : undefined;
}

export { isMap, isScalar, isSeq };
