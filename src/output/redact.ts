/**
 * Masking of secrets (vault-decrypted values, `no_log` values) in everything drover prints or
 * writes: human output, JSON lines, JUnit, HTML, error messages, debug logs, diffs.
 *
 * Decisions (docs/vault.md, "Masking"):
 * - The mask is `********` everywhere. Ansible writes `********` for a secret inside a larger
 *   string and `VALUE_SPECIFIED_IN_NO_LOG_PARAMETER` for a value that is exactly the secret;
 *   one mask is easier to grep for and says the same thing. `wholeValueMask` restores
 *   Ansible's placeholder for exact values where a consumer expects it.
 * - Secrets shorter than MIN_SUBSTRING_LENGTH (3) characters are masked only where a whole
 *   value equals them (in `redactValue`), never inside other text: masking every `a` or `1`
 *   in the output would destroy it and reveal the secret by its holes anyway.
 * - A multi-line secret is also registered line by line (trimmed), because formatters indent,
 *   wrap or print one line at a time; and in its JSON-escaped form, because output often
 *   carries JSON-encoded text (module results, `to_json` in templates).
 * - Booleans and null are never secrets (Ansible skips them too); numbers are, as text.
 *
 * Up to REGEX_LIMIT patterns are compiled into one regular expression, longest first,
 * rebuilt lazily after additions, because `redact` runs on every event of every host. Beyond
 * that a V8 alternation costs time per pattern at every text position (6 s for 11 MB against
 * 10000 secrets) and each rebuild tens of milliseconds, so a character trie takes over: per
 * text position it costs the length of the longest partial match, whatever the number of
 * secrets (0.2-0.8 s for 11 MB against 10000), and an addition costs its length. Both find
 * the leftmost match and, there, the longest secret.
 */

export const MASK = '********';
export const MIN_SUBSTRING_LENGTH = 3;
const REGEX_LIMIT = 400;

export interface RedactorOptions {
  /** Replacement inside text; default `********`. */
  mask?: string;
  /** Replacement for a value that is exactly a secret; default the same as `mask`. */
  wholeValueMask?: string;
}

export class Redactor {
  /** Every registered value, whatever its length: whole-value matches. */
  private readonly exact = new Set<string>();
  /** Values long enough to be searched for inside text. */
  private readonly patterns = new Set<string>();
  private regex: RegExp | undefined;
  private readonly trie: TrieNode = newNode();
  private dirty = false;
  private readonly mask: string;
  private readonly wholeValueMask: string;

  constructor(opts: RedactorOptions = {}) {
    this.mask = opts.mask ?? MASK;
    this.wholeValueMask = opts.wholeValueMask ?? this.mask;
  }

  /** Number of distinct substring patterns (for tests and debug output). */
  get size(): number {
    return this.patterns.size;
  }

  /** Registers a secret (and its lines and JSON-escaped form). Empty strings are ignored. */
  add(secret: string | number): void {
    const s = String(secret);
    if (s === '') return;
    this.exact.add(s);
    this.addPattern(s);
    if (/[\r\n]/.test(s)) {
      for (const line of s.split(/\r?\n|\r/)) {
        const t = line.trim();
        if (t !== '') {
          this.exact.add(t);
          this.addPattern(t);
        }
      }
    }
    const escaped = JSON.stringify(s).slice(1, -1);
    if (escaped !== s) this.addPattern(escaped);
  }

  addAll(secrets: Iterable<string | number>): void {
    for (const s of secrets) this.add(s);
  }

  /** True when `text` is exactly a registered secret. */
  isSecret(text: string): boolean {
    return this.exact.has(text);
  }

  /** Replaces every occurrence of every secret in `text`. */
  redact(text: string): string {
    if (this.patterns.size === 0 || text.length < MIN_SUBSTRING_LENGTH) return text;
    if (this.patterns.size > REGEX_LIMIT) return this.scan(text);
    const re = this.compiled();
    re.lastIndex = 0;
    return re.test(text) ? text.replace(re, this.mask) : text;
  }

  private scan(text: string): string {
    let out = '';
    let last = 0;
    const n = text.length;
    for (let i = 0; i < n; i++) {
      let node: TrieNode | undefined = this.trie;
      let end = -1;
      for (let j = i; j < n; ) {
        node = childOf(node, text.charCodeAt(j));
        if (node === undefined) break;
        j++;
        if (node.end) end = j;
      }
      if (end > 0) {
        out += text.slice(last, i) + this.mask;
        last = end;
        i = end - 1;
      }
    }
    return last === 0 ? text : out + text.slice(last);
  }

  /**
   * A deep copy of `v` with secrets masked in every string, object key and number (as
   * text). Objects with `toJSON` (e.g. vault strings, dates) are masked in their JSON form,
   * since that is what a formatter would print. Cycles become "[Circular]".
   */
  redactValue(v: unknown): unknown {
    return this.walk(v, new WeakSet());
  }

  private walk(v: unknown, seen: WeakSet<object>): unknown {
    if (typeof v === 'string') return this.exact.has(v) ? this.wholeValueMask : this.redact(v);
    if (typeof v === 'number' || typeof v === 'bigint') {
      return this.exact.has(String(v)) ? this.wholeValueMask : v;
    }
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return '[Circular]';
    seen.add(v);
    try {
      if (Array.isArray(v)) return v.map((x) => this.walk(x, seen));
      if (v instanceof Error) {
        const e = new Error(this.redact(v.message));
        e.name = v.name;
        e.stack = v.stack === undefined ? undefined : this.redact(v.stack);
        return e;
      }
      if (v instanceof Map) {
        return new Map([...v].map(([k, x]) => [this.walk(k, seen), this.walk(x, seen)] as const));
      }
      if (v instanceof Set) return new Set([...v].map((x) => this.walk(x, seen)));
      if (ArrayBuffer.isView(v)) return v;
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        const toJSON = (v as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === 'function') return this.walk(toJSON.call(v), seen);
      }
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        out[this.exact.has(k) ? this.wholeValueMask : this.redact(k)] = this.walk(x, seen);
      }
      return out;
    } finally {
      seen.delete(v);
    }
  }

  private addPattern(s: string): void {
    // Measured without surrounding whitespace: " a " would otherwise mask every lone "a".
    if (s.trim().length < MIN_SUBSTRING_LENGTH || this.patterns.has(s)) return;
    this.patterns.add(s);
    this.dirty = true;
    let node = this.trie;
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      let next = childOf(node, ch);
      if (!next) {
        next = newNode();
        if (node.many) node.many.set(ch, next);
        else if (node.one === undefined) {
          node.ch = ch;
          node.one = next;
        } else {
          node.many = new Map([
            [node.ch, node.one],
            [ch, next],
          ]);
          node.one = undefined;
          node.ch = -1;
        }
      }
      node = next;
    }
    node.end = true;
  }

  private compiled(): RegExp {
    if (!this.regex || this.dirty) {
      // Longest first: at a given position the alternation takes the first branch that
      // matches, so a secret containing another must win over it.
      const sorted = [...this.patterns].sort((a, b) => b.length - a.length);
      this.regex = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
      this.dirty = false;
    }
    return this.regex;
  }
}

/** A trie node; most nodes on a secret's tail have one child, kept without a Map. */
interface TrieNode {
  ch: number;
  one: TrieNode | undefined;
  many: Map<number, TrieNode> | undefined;
  end: boolean;
}

function newNode(): TrieNode {
  return { ch: -1, one: undefined, many: undefined, end: false };
}

function childOf(node: TrieNode, ch: number): TrieNode | undefined {
  if (node.many !== undefined) return node.many.get(ch);
  return node.ch === ch ? node.one : undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
