import { DroverError, ExitCode } from '../errors.js';

/**
 * A template failed to parse or evaluate. The runner prefixes the task's file:line:col;
 * `line` is the line inside the template text (1-based) when the engine knows it.
 */
export class TemplateError extends DroverError {
  // A templating failure fails the task on that host, as in ansible-playbook.
  readonly exitCode: number = ExitCode.hostFailed;
  readonly undefinedName?: string;
  readonly template: string;
  readonly line?: number;
  constructor(
    message: string,
    opts: { template: string; undefinedName?: string; line?: number; hint?: string },
  ) {
    super(message, opts.hint);
    this.template = opts.template;
    if (opts.undefinedName !== undefined) this.undefinedName = opts.undefinedName;
    if (opts.line !== undefined) this.line = opts.line;
  }
}
