/**
 * package: the generic front that hands name/state to the host's package manager module.
 * The manager comes from facts (ansible_pkg_mgr) when gathered; otherwise one extra round
 * trip detects it (apt-get, dnf, yum, apk, in that order).
 */
import type { RunResult } from '../../src/transport/types.js';
import { validateArgs } from '../args.js';
import type { AnyModule, Module, PlanContext, Step, TaskResult } from '../types.js';
import { apk } from './apk.js';
import { apt } from './apt.js';
import { dnf, yum } from './rpm.js';

export interface PackageArgs {
  name: string[];
  state?: string;
  use: string;
}

const MANAGERS: Record<string, AnyModule> = { apt, dnf, yum, apk, dnf5: dnf };

const DETECT = `for t in apt-get dnf yum apk; do if command -v "$t" >/dev/null 2>&1; then echo "pkg_mgr=$t"; exit 0; fi; done; echo pkg_mgr=unknown`;

function factManager(facts: Readonly<Record<string, unknown>>): string | undefined {
  const nested = facts.ansible_facts as Record<string, unknown> | undefined;
  const v = facts.ansible_pkg_mgr ?? facts.pkg_mgr ?? nested?.pkg_mgr;
  return typeof v === 'string' && v !== 'unknown' ? v : undefined;
}

async function delegate(mgr: string, a: PackageArgs, ctx: PlanContext): Promise<Step | TaskResult> {
  const mod = MANAGERS[mgr];
  if (!mod) {
    return {
      failed: true,
      msg: `Could not find a module for ${mgr}; drover's package module supports apt, dnf, yum and apk. Use the manager's own module or set use=.`,
    };
  }
  const v = validateArgs(mod.names[0]!, mod.args, { name: a.name, state: a.state });
  if (v.errors.length > 0)
    return { failed: true, msg: `package (via ${mod.names[0]}): ${v.errors.join('; ')}` };
  return mod.plan(v.args, ctx);
}

export function planPackage(a: PackageArgs, ctx: PlanContext): Promise<Step | TaskResult> | Step {
  const chosen = a.use !== 'auto' ? a.use : factManager(ctx.facts);
  if (chosen) return delegate(chosen === 'apt-get' ? 'apt' : chosen, a, ctx);
  return {
    script: DETECT,
    parse(r: RunResult) {
      const m = /^pkg_mgr=(.*)$/m.exec(r.stdout);
      const found = m?.[1] ?? 'unknown';
      if (found === 'unknown') {
        return {
          failed: true,
          msg: 'Could not detect which package manager to use. Try gathering facts or setting the "use" option.',
        };
      }
      return delegate(found === 'apt-get' ? 'apt' : found, a, ctx);
    },
  };
}

export const packageModule: Module<PackageArgs> = {
  names: ['package', 'ansible.builtin.package'],
  check: 'full',
  args: {
    options: {
      name: { type: 'list', elements: 'str', required: true },
      // Documented as required, but ansible-core hands an absent state to the backend
      // module, whose default (present) applies: `package: name=x` works there.
      state: { type: 'str' },
      use: { type: 'str', default: 'auto' },
    },
  },
  plan: planPackage,
};
