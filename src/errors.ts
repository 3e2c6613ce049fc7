/**
 * Typed errors that reach the user. Every class carries the exit code ansible-core gives
 * for the same situation (measured with ansible-core 2.14), so the CLI maps errors to
 * codes in one place and never by message matching.
 */

export interface SourcePos {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
}

export function formatPos(pos: SourcePos | undefined): string {
  return pos ? `${pos.file}:${pos.line}:${pos.col}` : '';
}

/** Exit codes of ansible / ansible-playbook 2.14, as measured (the oracle wins over the docs). */
export const ExitCode = {
  ok: 0,
  error: 1, // generic error, e.g. a missing playbook file
  hostFailed: 2, // a host failed; also bad command-line usage
  usage: 2,
  unreachable: 4, // a host unreachable (docs say 3, 2.14 returns 4)
  parse: 4, // a parse / validation error
  interrupted: 99,
  internal: 250,
} as const;

export abstract class DroverError extends Error {
  abstract readonly exitCode: number;
  /** What the user can do next; printed after the message. */
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    if (hint !== undefined) this.hint = hint;
  }
}

/** Bad command-line usage or configuration. */
export class UsageError extends DroverError {
  readonly exitCode = ExitCode.usage;
}

/** A file the user named does not exist or cannot be read. */
export class MissingFileError extends DroverError {
  readonly exitCode = ExitCode.error;
}

/** One problem found while loading or validating input, with its source position. */
export interface Problem {
  message: string;
  pos?: SourcePos;
  hint?: string;
  severity?: 'error' | 'warning';
}

export function formatProblem(p: Problem): string {
  const where = p.pos ? `${formatPos(p.pos)}: ` : '';
  return `${where}${p.message}${p.hint ? `\n  hint: ${p.hint}` : ''}`;
}

/**
 * Every problem found in one validation pass (YAML, inventory, playbook, template).
 * Thrown once, before any host is contacted.
 */
export class ValidationError extends DroverError {
  readonly exitCode = ExitCode.parse;
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    const errors = problems.filter((p) => p.severity !== 'warning');
    super(
      errors.length === 1
        ? formatProblem(errors[0]!)
        : `${errors.length} problems found:\n${errors.map((p) => `- ${formatProblem(p)}`).join('\n')}`,
    );
    this.problems = problems;
  }
}

/** A failure of the controller itself that the user can act on (e.g. cannot create a temp dir). */
export class ControllerError extends DroverError {
  readonly exitCode = ExitCode.error;
}

/** A bug in drover. Printed with a request to report it. */
export class InternalError extends DroverError {
  readonly exitCode = ExitCode.internal;
}

/** Collects problems during a validation pass; throws them all at once. */
export class ProblemList {
  readonly items: Problem[] = [];
  add(message: string, pos?: SourcePos, hint?: string): void {
    const p: Problem = { message, severity: 'error' };
    if (pos) p.pos = pos;
    if (hint) p.hint = hint;
    this.items.push(p);
  }
  warn(message: string, pos?: SourcePos): void {
    const p: Problem = { message, severity: 'warning' };
    if (pos) p.pos = pos;
    this.items.push(p);
  }
  get errors(): Problem[] {
    return this.items.filter((p) => p.severity !== 'warning');
  }
  get warnings(): Problem[] {
    return this.items.filter((p) => p.severity === 'warning');
  }
  throwIfAny(): void {
    if (this.errors.length > 0) throw new ValidationError(this.items);
  }
}

/** Levenshtein-based "did you mean" for unknown names. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDist = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(2, Math.floor(name.length / 3));
  return bestDist <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
