/**
 * Notify names that reach no handler. Ansible fails only when the notifying task reports a
 * change, and handlers may still arrive through include_tasks / include_role at run time,
 * so these are warnings, found before any host is contacted.
 */

import { isTemplated } from '../../modules/args.js';
import { didYouMean, type SourcePos } from '../errors.js';
import type { Play, PlayNode, RoleInstance, TaskNode } from './types.js';

function walk(nodes: PlayNode[], visit: (t: TaskNode) => void): void {
  for (const n of nodes) {
    if (n.kind === 'block') walk([...n.block, ...n.rescue, ...n.always], visit);
    else visit(n);
  }
}

function eachRole(roles: RoleInstance[], visit: (r: RoleInstance) => void): void {
  for (const r of roles) {
    eachRole(r.dependencies, visit);
    visit(r);
  }
}

/** A warning for each literal notify name that matches no handler name or listen topic. */
export function unknownNotifies(play: Play): { message: string; pos: SourcePos }[] {
  const known = new Set<string>();
  const handlers: PlayNode[] = [];
  eachRole(play.roles, (r) => handlers.push(...r.handlers));
  handlers.push(...play.handlers);
  let dynamic = false;
  walk(handlers, (h) => {
    if (h.name !== undefined) {
      known.add(h.name);
      if (h.origin.role) known.add(`${h.origin.role.name} : ${h.name}`);
    }
    for (const l of h.listen ?? []) known.add(l);
    if (h.action === 'include_tasks' || h.action === 'include_role') dynamic = true;
  });
  if (dynamic) return [];
  const out: { message: string; pos: SourcePos }[] = [];
  const check = (t: TaskNode) => {
    for (const n of t.notify ?? []) {
      if (isTemplated(n) || known.has(n)) continue;
      const guess = didYouMean(n, known);
      out.push({
        message: `the handler '${n}' notified here is not defined in this play${guess ? `; did you mean '${guess}'?` : ''}`,
        pos: t.pos,
      });
    }
  };
  eachRole(play.roles, (r) => walk(r.tasks, check));
  walk([...play.pre_tasks, ...play.tasks, ...play.post_tasks, ...handlers], check);
  return out;
}
