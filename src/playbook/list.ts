/**
 * Tag selection (`--tags` / `--skip-tags` with `always`, `never`, `all`, `tagged`,
 * `untagged`) and the `--list-tasks` / `--list-tags` text, shaped like ansible-playbook's
 * (ansible/cli/playbook.py and Taggable.evaluate_tags in 2.14).
 */
import type { Play, Playbook, PlayNode, RoleInstance, TaskNode } from './types.js';

export interface TagSelection {
  /** --tags; Ansible's default is ['all']. */
  only?: readonly string[];
  /** --skip-tags. */
  skip?: readonly string[];
}

/** Does a task with these (effective, inherited) tags run under this selection? */
export function taskSelectedByTags(tags: readonly string[], sel: TagSelection = {}): boolean {
  const only = sel.only && sel.only.length > 0 ? sel.only : ['all'];
  const skip = sel.skip ?? [];
  const set = new Set(tags.length > 0 ? tags : ['untagged']);
  const untagged = set.size === 1 && set.has('untagged');
  const meets = (list: readonly string[]) => list.some((t) => set.has(t));
  let run: boolean;
  if (set.has('always')) run = true;
  else if (only.includes('all') && !set.has('never')) run = true;
  else if (meets(only)) run = true;
  else run = only.includes('tagged') && !untagged && !set.has('never');
  if (run && skip.length > 0) {
    if (skip.includes('all')) {
      if (!set.has('always') || skip.includes('always')) run = false;
    } else if (meets(skip)) run = false;
    else if (skip.includes('tagged') && !untagged) run = false;
  }
  return run;
}

/** The name ansible-playbook shows for a task: `role : name`, or the action as written. */
export function taskDisplayName(t: TaskNode): string {
  const own = t.name !== undefined && t.name !== '' ? t.name : t.actionAs;
  return t.origin.role ? `${t.origin.role.name} : ${own}` : own;
}

function hostList(hosts: unknown): string {
  if (Array.isArray(hosts)) return hosts.map(String).join(',');
  if (typeof hosts === 'string') return hosts;
  return '';
}

/** The play name Ansible shows: its name, or its host pattern. */
export function playDisplayName(play: Play): string {
  return play.name !== undefined ? play.name : hostList(play.hosts);
}

/** Tasks of a play in run order (pre_tasks, roles with their dependencies, tasks, post_tasks). */
export function playTasksInOrder(play: Play): PlayNode[] {
  const out: PlayNode[] = [...play.pre_tasks];
  const role = (r: RoleInstance) => {
    for (const d of r.dependencies) role(d);
    out.push(...r.tasks);
  };
  for (const r of play.roles) role(r);
  out.push(...play.tasks, ...play.post_tasks);
  return out;
}

function selectedTasks(nodes: PlayNode[], sel: TagSelection, out: TaskNode[]): void {
  for (const n of nodes) {
    // ansible-playbook lists only the `block:` part of a block, never rescue/always.
    if (n.kind === 'block') selectedTasks(n.block, sel, out);
    else if (taskSelectedByTags(n.tags, sel)) out.push(n);
  }
}

function sortedUnion(a: Iterable<string>, b: Iterable<string>): string[] {
  // Python's list.sort on str: code point order.
  return [...new Set([...a, ...b])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

export interface ListOptions extends TagSelection {
  /** The playbook name as given on the command line (Ansible prints it as typed). */
  displayFile?: string;
  tasks?: boolean;
  tags?: boolean;
}

/** The lines `ansible-playbook --list-tasks` (and/or `--list-tags`) prints for a playbook. */
export function listPlaybook(pb: Playbook, opts: ListOptions): string[] {
  let text = `\nplaybook: ${opts.displayFile ?? pb.file}\n`;
  pb.plays.forEach((play, i) => {
    const playTags = new Set(play.tags);
    text += `\n  play #${i + 1} (${hostList(play.hosts)}): ${playDisplayName(play)}\tTAGS: [${[...playTags].sort().join(',')}]\n`;
    if (!opts.tasks && !opts.tags) return;
    let msg = opts.tasks ? '    tasks:\n' : '';
    const tasks: TaskNode[] = [];
    selectedTasks(playTasksInOrder(play), opts, tasks);
    const allTags = new Set<string>();
    for (const t of tasks) {
      for (const tag of t.tags) allTags.add(tag);
      if (opts.tasks)
        msg += `      ${taskDisplayName(t)}\tTAGS: [${sortedUnion(playTags, t.tags).join(', ')}]\n`;
    }
    if (opts.tags) msg += `      TASK TAGS: [${sortedUnion(playTags, allTags).join(', ')}]\n`;
    // Ansible's display() adds a newline only when the text does not end with one.
    text += msg.endsWith('\n') ? msg : `${msg}\n`;
  });
  return text.split('\n');
}

export function listTasks(pb: Playbook, opts: Omit<ListOptions, 'tasks'> = {}): string[] {
  return listPlaybook(pb, { ...opts, tasks: true });
}

export function listTags(pb: Playbook, opts: Omit<ListOptions, 'tags'> = {}): string[] {
  return listPlaybook(pb, { ...opts, tags: true });
}
