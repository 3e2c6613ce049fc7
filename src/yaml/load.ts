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

function tagsFor(file: string, lc: { current?: LineCounter }, opts: YamlLoadOptions): Tags {
  return [
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
  ] as Tags;
}

export function loadYaml(text: string, file: string, opts: YamlLoadOptions = {}): LoadedYaml {
  const lineCounter = new LineCounter();
  const problems: Problem[] = [];
  const parsed = YAML.parseAllDocuments(text, {
    lineCounter,
    version: '1.1', // Ansible uses PyYAML: yes/no/on/off are booleans
    customTags: tagsFor(file, { current: lineCounter }, opts),
    uniqueKeys: false, // Ansible warns and takes the last value
    prettyErrors: false,
  });
  const docs: unknown[] = [];
  const nodes: (ParsedNode | null)[] = [];
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const doc of list) {
    for (const err of doc.errors) {
      const [line, col] = err.linePos?.[0] ? [err.linePos[0].line, err.linePos[0].col] : [1, 1];
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
