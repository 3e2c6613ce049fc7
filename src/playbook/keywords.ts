/**
 * The keywords Ansible 2.14 accepts at each level (Play/Block/Task/Handler/RoleInclude/
 * PlaybookInclude `fattributes`, read from ansible-core 2.14.18), so unknown keywords are
 * reported with Ansible's wording and a did-you-mean.
 */

const COMMON = [
  'any_errors_fatal',
  'become',
  'become_exe',
  'become_flags',
  'become_method',
  'become_user',
  'check_mode',
  'collections',
  'connection',
  'debugger',
  'diff',
  'environment',
  'ignore_errors',
  'ignore_unreachable',
  'module_defaults',
  'name',
  'no_log',
  'port',
  'remote_user',
  'run_once',
  'tags',
  'throttle',
  'timeout',
  'vars',
] as const;

export const PLAY_KEYWORDS: ReadonlySet<string> = new Set([
  ...COMMON,
  'fact_path',
  'force_handlers',
  'gather_facts',
  'gather_subset',
  'gather_timeout',
  'handlers',
  'hosts',
  'max_fail_percentage',
  'order',
  'post_tasks',
  'pre_tasks',
  'roles',
  'serial',
  'strategy',
  'tasks',
  'vars_files',
  'vars_prompt',
]);

export const BLOCK_KEYWORDS: ReadonlySet<string> = new Set([
  ...COMMON,
  'always',
  'block',
  'delegate_facts',
  'delegate_to',
  'notify',
  'rescue',
  'when',
]);

export const TASK_KEYWORDS: ReadonlySet<string> = new Set([
  ...COMMON,
  'action',
  'args',
  'async',
  'changed_when',
  'delay',
  'delegate_facts',
  'delegate_to',
  'failed_when',
  'local_action',
  'loop',
  'loop_control',
  'notify',
  'poll',
  'register',
  'retries',
  'until',
  'when',
]);

export const HANDLER_KEYWORDS: ReadonlySet<string> = new Set([...TASK_KEYWORDS, 'listen']);

/** Keywords on a `roles:` entry; every other key is a role parameter. */
export const ROLE_KEYWORDS: ReadonlySet<string> = new Set([
  ...COMMON,
  'delegate_facts',
  'delegate_to',
  'role',
  'when',
]);

export const IMPORT_PLAYBOOK_KEYWORDS: ReadonlySet<string> = new Set([
  ...COMMON.filter((k) => k !== 'collections'),
  'import_playbook',
  'when',
]);

/** Keywords that flow from a play/block/role/import down to its tasks. */
export const INHERITED_SCALARS = [
  'become',
  'become_user',
  'become_method',
  'become_flags',
  'become_exe',
  'remote_user',
  'connection',
  'ignore_errors',
  'ignore_unreachable',
  'check_mode',
  'diff',
  'no_log',
  'any_errors_fatal',
  'run_once',
  'delegate_to',
  'delegate_facts',
  'throttle',
  'timeout',
  'port',
  'debugger',
] as const;

/** `with_<lookup>` loops in common use; any other `with_x` is reported as unknown. */
export const WITH_LOOKUPS: ReadonlySet<string> = new Set([
  'items',
  'list',
  'dict',
  'together',
  'nested',
  'cartesian',
  'subelements',
  'fileglob',
  'filetree',
  'first_found',
  'sequence',
  'indexed_items',
  'random_choice',
  'lines',
  'file',
  'flattened',
  'env',
  'inventory_hostnames',
  'template',
  'pipe',
  'password',
  'vars',
  'varnames',
  'url',
  'ini',
  'csvfile',
  'dnstxt',
  'unvault',
  'config',
]);

/** Loop kind name used by TaskNode.loopKind for a `loop:` keyword. */
export const LOOP_KIND = 'loop';
