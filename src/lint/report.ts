/** `drover lint --format human|github|json`: the same problems for people, GitHub and tools. */
import { isAbsolute, relative } from 'node:path';
import type { SourcePos } from '../errors.js';
import { escapeData, escapeProperty } from '../output/github.js';
import type { LintProblem } from './lint.js';

export const LINT_FORMATS = ['human', 'github', 'json'] as const;
export type LintFormat = (typeof LINT_FORMATS)[number];

/** Paths under `cwd` are shown relative to it (as GitHub and editors want them). */
function shown(file: string, cwd: string): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

function where(pos: SourcePos | undefined, cwd: string): string {
  return pos ? `${shown(pos.file, cwd)}:${pos.line}:${pos.col}` : '';
}

export function counts(problems: LintProblem[]): { errors: number; warnings: number } {
  const errors = problems.filter((p) => p.severity === 'error').length;
  return { errors, warnings: problems.filter((p) => p.severity === 'warning').length };
}

export function formatLint(problems: LintProblem[], format: LintFormat, cwd: string): string {
  const { errors, warnings } = counts(problems);
  switch (format) {
    case 'json':
      return `${JSON.stringify(
        {
          v: 1,
          errors,
          warnings,
          problems: problems.map((p) => ({
            ...p,
            ...(p.pos ? { pos: { ...p.pos, file: shown(p.pos.file, cwd) } } : {}),
          })),
        },
        null,
        2,
      )}\n`;
    case 'github':
      return problems
        .map((p) => {
          const props = p.pos
            ? [`file=${escapeProperty(shown(p.pos.file, cwd))}`, `line=${p.pos.line}`, `col=${p.pos.col}`]
            : [];
          props.push(`title=${escapeProperty(p.rule)}`);
          const text = p.hint ? `${p.message}\n${p.hint}` : p.message;
          const kind = p.severity === 'info' ? 'notice' : p.severity;
          return `::${kind} ${props.join(',')}::${escapeData(text)}\n`;
        })
        .join('');
    case 'human': {
      const lines = problems.map((p) => {
        const at = where(p.pos, cwd);
        return `${at ? `${at}: ` : ''}${p.severity} [${p.rule}] ${p.message}${p.hint ? `\n  hint: ${p.hint}` : ''}\n`;
      });
      const summary =
        errors + warnings === 0 ? 'no problems found\n' : `${errors} error(s), ${warnings} warning(s)\n`;
      return `${lines.join('')}${summary}`;
    }
  }
}
