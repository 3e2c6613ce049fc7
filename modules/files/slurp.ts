/** slurp: a remote file's bytes, base64-encoded, in one round trip. */
import { parseReport } from '../sh/protocol.js';
import { shPath, shScript } from '../sh/script.js';
import type { Module, PlanContext, Step } from '../types.js';
import { failureFrom } from './common.js';

export interface SlurpArgs {
  src: string;
}

const SLURP_BODY = String.raw`
[ -e "$src" ] || dr_fail "file not found: $src"
[ -d "$src" ] && dr_fail "source is a directory and must be a file: $src"
[ -r "$src" ] || dr_fail "file is not readable: $src"
printf 'content='; dr_b64 < "$src" || dr_fail "unable to slurp file: $src"; printf '\n'
`;

function planSlurp(args: SlurpArgs, ctx: PlanContext): Step {
  return {
    script: shScript({ check: ctx.check, vars: { src: shPath(args.src) }, tilde: ['src'], body: SLURP_BODY }),
    parse(r) {
      const report = parseReport(r.stdout);
      const failed = failureFrom('slurp', r, report);
      if (failed) return failed;
      return { changed: false, content: report.get('content') ?? '', source: args.src, encoding: 'base64' };
    },
  };
}

export const slurpModule: Module<SlurpArgs> = {
  names: ['slurp', 'ansible.builtin.slurp', 'ansible.legacy.slurp'],
  check: 'full',
  args: { options: { src: { type: 'path', required: true, aliases: ['path'] } } },
  plan: planSlurp,
};
