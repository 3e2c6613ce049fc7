import { DroverError, ExitCode } from '../errors.js';

/**
 * A vault problem the user can act on: wrong password, damaged file, missing password file.
 * ansible-vault and ansible-playbook both exit 1 for these, so the CLI maps them the same.
 */
export class VaultError extends DroverError {
  readonly exitCode: number = ExitCode.error;
}

/** Contradictory or missing options; ansible-vault exits 5 (AnsibleOptionsError) for these. */
export class VaultOptionsError extends DroverError {
  readonly exitCode: number = 5;
}
