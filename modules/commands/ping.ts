import type { Module } from '../types.js';

export interface PingArgs {
  data: string;
}

/** ping proves the host runs commands (one real round trip), not just that the port is open. */
export const ping: Module<PingArgs> = {
  names: ['ping', 'ansible.builtin.ping', 'ansible.legacy.ping'],
  args: { options: { data: { type: 'str', default: 'pong' } } },
  check: 'full',
  plan(args) {
    return {
      script: 'echo pong',
      parse(r) {
        if (r.rc !== 0 || r.stdout.trim() !== 'pong') {
          return {
            failed: true,
            changed: false,
            msg: `the target could not run sh: rc=${r.rc} ${r.stderr.trim()}`,
          };
        }
        if (args.data === 'crash') return { failed: true, changed: false, msg: 'boom' };
        return { ping: args.data, changed: false };
      },
    };
  },
};
