/**
 * The line protocol remote module scripts answer in. Each answer line is `key=value` (a plain
 * value: digits, octal modes, words without newlines) or `key:b64=BASE64` (a value that can
 * hold anything: paths, names, file contents). Keys repeat for lists. Lines that match
 * neither form (stray command output) are ignored, so a chatty tool cannot forge a key
 * unless it prints the exact `key=` form at the start of a line; scripts therefore
 * redirect the output of every command they run away from stdout.
 */

const LINE = /^([A-Za-z_][A-Za-z0-9_.]*)(:b64)?=(.*)$/;

export class Report {
  readonly #values = new Map<string, Buffer[]>();

  add(key: string, value: Buffer): void {
    const list = this.#values.get(key);
    if (list) list.push(value);
    else this.#values.set(key, [value]);
  }

  has(key: string): boolean {
    return this.#values.has(key);
  }

  /** The last value of `key` as UTF-8 text. */
  get(key: string): string | undefined {
    const list = this.#values.get(key);
    return list ? list[list.length - 1]!.toString('utf8') : undefined;
  }

  /** The last value of `key` as raw bytes (file contents). */
  bytes(key: string): Buffer | undefined {
    const list = this.#values.get(key);
    return list ? list[list.length - 1] : undefined;
  }

  /** Every value of a repeated key, in order. */
  all(key: string): string[] {
    return (this.#values.get(key) ?? []).map((b) => b.toString('utf8'));
  }

  allBytes(key: string): Buffer[] {
    return [...(this.#values.get(key) ?? [])];
  }

  int(key: string): number | undefined {
    const v = this.get(key);
    if (v === undefined || !/^-?\d+$/.test(v.trim())) return undefined;
    return Number.parseInt(v, 10);
  }

  /** A `1`/`0` flag; absent means false. */
  flag(key: string): boolean {
    return this.get(key) === '1';
  }

  keys(): string[] {
    return [...this.#values.keys()];
  }
}

export function parseReport(stdout: string): Report {
  const report = new Report();
  for (const line of stdout.split('\n')) {
    const m = LINE.exec(line.endsWith('\r') ? line.slice(0, -1) : line);
    if (!m) continue;
    const [, key, enc, value] = m;
    report.add(key!, enc ? Buffer.from(value!, 'base64') : Buffer.from(value!, 'utf8'));
  }
  return report;
}
