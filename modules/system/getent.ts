/**
 * getent: run `getent DATABASE [KEY]` on the target and publish the records as
 * ansible_facts.getent_DATABASE, split on ':' for the colon databases and on whitespace
 * otherwise, as Ansible does. Read-only, so check mode runs it too.
 */
import { quoteArgs } from '../../src/shell/quote.js';
import type { RunResult } from '../../src/transport/types.js';
import type { Module, PlanContext, Step, TaskResult } from '../types.js';

export interface GetentArgs {
  database: string;
  key?: string;
  split?: string;
  fail_key: boolean;
  service?: string;
}

const COLON = new Set(['passwd', 'shadow', 'group', 'gshadow']);

export function getentFacts(out: string, database: string, split?: string): Record<string, unknown> {
  const sep = split ?? (COLON.has(database) ? ':' : undefined);
  const results: Record<string, unknown> = {};
  const seen = new Map<string, number>();
  for (const line of out.split(/\r?\n/)) {
    if (line === '') continue;
    const record = sep === undefined ? line.trim().split(/\s+/) : line.split(sep);
    const k = record[0]!;
    const rest = record.slice(1);
    const n = seen.get(k) ?? 0;
    if (n === 0) results[k] = rest;
    else {
      if (n === 1) results[k] = [results[k]];
      (results[k] as unknown[]).push(rest);
    }
    seen.set(k, n + 1);
  }
  return results;
}

export function planGetent(a: GetentArgs, _ctx: PlanContext): Step | TaskResult {
  const argv = ['getent'];
  if (a.service) argv.push('-s', a.service);
  argv.push(a.database);
  if (a.key !== undefined) argv.push(a.key);
  const cmd = quoteArgs(argv);
  return {
    script: `command -v getent >/dev/null 2>&1 || { echo 'Failed to find required executable "getent"' >&2; exit 127; }\n${cmd}`,
    parse(r: RunResult): TaskResult {
      if (r.rc === 0) {
        return {
          changed: false,
          ansible_facts: { [`getent_${a.database}`]: getentFacts(r.stdout, a.database, a.split) },
        };
      }
      if (r.rc === 1)
        return { failed: true, changed: false, msg: 'Missing arguments, or database unknown.', rc: r.rc };
      if (r.rc === 2) {
        const msg = 'One or more supplied key could not be found in the database.';
        if (!a.fail_key) {
          const facts: Record<string, unknown> = {};
          if (a.key !== undefined) facts[a.key] = null;
          return { changed: false, msg, ansible_facts: { [`getent_${a.database}`]: facts } };
        }
        return { failed: true, changed: false, msg, rc: r.rc };
      }
      if (r.rc === 3)
        return { failed: true, changed: false, msg: 'Enumeration not supported on this database.', rc: r.rc };
      return { failed: true, changed: false, rc: r.rc, msg: r.stderr.trim() || `getent failed (rc=${r.rc})` };
    },
  };
}

export const getent: Module<GetentArgs> = {
  names: ['getent', 'ansible.builtin.getent'],
  check: 'full',
  args: {
    options: {
      database: { type: 'str', required: true },
      key: { type: 'str', noLog: false },
      service: { type: 'str' },
      split: { type: 'str' },
      fail_key: { type: 'bool', default: true },
    },
  },
  plan: planGetent,
};
