/** --ssh-session / DROVER_SSH_SESSION → the transport's session option (ADR 091). */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SSH_SESSION, sshSessionMode } from '../../../cli/common.js';
import { UsageError } from '../../../src/errors.js';

const saved = process.env.DROVER_SSH_SESSION;
afterEach(() => {
  if (saved === undefined) delete process.env.DROVER_SSH_SESSION;
  else process.env.DROVER_SSH_SESSION = saved;
});

describe('sshSessionMode', () => {
  it('defaults to the session shell', () => {
    delete process.env.DROVER_SSH_SESSION;
    expect(DEFAULT_SSH_SESSION).toBe('on');
    expect(sshSessionMode(undefined)).toBe(true);
  });

  it('takes the flag over the environment, and the environment over the default', () => {
    process.env.DROVER_SSH_SESSION = 'off';
    expect(sshSessionMode(undefined)).toBe(false);
    expect(sshSessionMode('auto')).toBe('auto');
    expect(sshSessionMode('on')).toBe(true);
  });

  it('refuses an unknown value in the environment with what is allowed', () => {
    process.env.DROVER_SSH_SESSION = 'sometimes';
    expect(() => sshSessionMode(undefined)).toThrow(UsageError);
    expect(() => sshSessionMode(undefined)).toThrow(/on, off or auto, got: sometimes/);
  });
});
