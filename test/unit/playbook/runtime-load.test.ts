import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.js';
import { findTasksFile, loadRole, loadTasksFile, loadVarsFile } from '../../../src/playbook/load.js';
import type { TaskNode } from '../../../src/playbook/types.js';

const GOOD = resolve('test/fixtures/playbooks/good');
const BAD = resolve('test/fixtures/playbooks/bad');

describe('run-time loading for include_tasks / include_role / include_vars', () => {
  it('loadTasksFile loads a tasks file into nodes that keep the origin role', () => {
    const nodes = loadTasksFile(join(GOOD, 'tasks/extra.yml'), {}, { baseDir: GOOD });
    expect(nodes.map((n) => (n as TaskNode).name)).toEqual(['Extra one', 'More']);
    expect((nodes[0] as TaskNode).tags).toEqual(['x1']);
    expect((nodes[0] as TaskNode).origin.baseDir).toBe(join(GOOD, 'tasks'));
  });

  it('nodes loaded at run time get ids distinct from the playbook and from each other', () => {
    const a = loadTasksFile(join(GOOD, 'tasks/nested.yml'), {}, { baseDir: GOOD });
    const b = loadTasksFile(join(GOOD, 'tasks/nested.yml'), {}, { baseDir: GOOD });
    expect(a[0]!.id).toMatch(/^i\d+\.t\d+$/);
    expect(a[0]!.id).not.toBe(b[0]!.id);
  });

  it('loadTasksFile throws a ValidationError with positions for a bad file', () => {
    expect(() => loadTasksFile(join(BAD, 'tasks/a.yml'), {}, { baseDir: join(BAD, 'tasks') })).toThrow(
      /circular import_tasks: .*a\.yml -> .*b\.yml -> .*a\.yml/,
    );
  });

  it('findTasksFile searches the file dir, its tasks/ and the role', () => {
    expect(findTasksFile('nested.yml', { playbookDir: GOOD }, { baseDir: GOOD })).toBe(
      join(GOOD, 'tasks/nested.yml'),
    );
    expect(findTasksFile('nope.yml', { playbookDir: GOOD }, { baseDir: GOOD })).toBeUndefined();
  });

  it('loadRole finds a role beside the playbook, with tasks_from and params', () => {
    const r = loadRole('app', {}, GOOD, { tasks_from: 'install', app_user: 'x' });
    expect(r.name).toBe('app');
    expect(r.params).toEqual({ app_user: 'x' });
    expect(r.tasks.map((t) => (t as TaskNode).name)).toEqual(['Install app']);
    expect((r.tasks[0] as TaskNode).origin.role).toBe(r);
    expect(r.handlers.map((t) => (t as TaskNode).name)).toEqual(['reload app']);
    expect(r.allowDuplicates).toBe(true);
  });

  it('loadRole takes the include_role task args: options are not role params', () => {
    const r = loadRole('app', {}, GOOD, {
      name: 'app',
      apply: { tags: 'x' },
      public: true,
      allow_duplicates: false,
      v: 1,
    });
    expect(r.params).toEqual({ v: 1 });
    expect(r.allowDuplicates).toBe(false);
  });

  it('loadRole from inside a role finds its sibling roles first', () => {
    const r = loadRole('base', { playbookDir: '/nonexistent' }, join(GOOD, 'roles/app/tasks'));
    expect(r.path).toBe(join(GOOD, 'roles/base'));
  });

  it('loadTasksFile hands warnings to onWarning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-w-'));
    try {
      writeFileSync(join(dir, 't.yml'), '- name: a\n  debug: msg=1\n  debug: msg=2\n');
      const seen: string[] = [];
      const nodes = loadTasksFile(
        join(dir, 't.yml'),
        { onWarning: (p) => seen.push(p.message) },
        { baseDir: dir },
      );
      expect(seen).toEqual(["duplicate key 'debug' in a task: the last one wins"]);
      expect((nodes[0] as TaskNode).args).toEqual({ msg: '2' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loadRole loads meta dependencies recursively', () => {
    const r = loadRole('common', {}, GOOD);
    expect(r.dependencies.map((d) => d.name)).toEqual(['base']);
    expect(r.dependencies[0]?.tasks.map((t) => (t as TaskNode).name)).toEqual(['Base task']);
  });

  it('loadRole by path and through roles_path', () => {
    expect(loadRole(join(GOOD, 'roles/base'), {}, '/').name).toBe('base');
    expect(loadRole('base', { rolesPath: [join(GOOD, 'roles')] }, '/tmp').path).toBe(
      join(GOOD, 'roles/base'),
    );
  });

  it('loadRole reports where it searched', () => {
    let err: unknown;
    try {
      loadRole('nosuch', { rolesPath: ['/opt/roles'] }, GOOD);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toContain(
      `the role 'nosuch' was not found in ${GOOD}/roles:/opt/roles:${GOOD}`,
    );
  });

  it('loadVarsFile reads a mapping and rejects a list', () => {
    expect(loadVarsFile(join(GOOD, 'vars/common.yml'))).toEqual({ common_var: 1 });
    expect(() => loadVarsFile(join(GOOD, 'tasks/nested.yml'))).toThrow(
      /must hold a mapping of variables, got a list/,
    );
  });
});

// The bad fixtures Ansible itself rejects when parsing: proof they are really bad.
// (The others, such as an unknown module argument or a bad `when`, Ansible only reports
// when the task runs; drover reports them before any host is contacted.)
const ANSIBLE_REJECTS = [
  'bad-indentation.yml',
  'bad-variable-name.yml',
  'block-keyword.yml',
  'block-typo.yml',
  'circular-import.yml',
  'extra-params.yml',
  'handlers-not-list.yml',
  'import-loop.yml',
  'import-playbook-in-tasks.yml',
  'keyword-typo.yml',
  'loop-and-with.yml',
  'loop-control.yml',
  'missing-import-playbook.yml',
  'missing-import.yml',
  'missing-role.yml',
  'module-typo.yml',
  'no-action.yml',
  'not-a-list.yml',
  'play-keyword-typo.yml',
  'play-without-hosts.yml',
  'role-cycle.yml',
  'tab-indentation.yml',
  'tasks-file-as-playbook.yml',
  'tasks-not-list.yml',
  'two-actions.yml',
  'two-documents.yml',
  'unclosed-quote.yml',
  'unclosed-yaml-quote.yml',
];

describe.concurrent.skipIf(!existsSync('/usr/bin/ansible-playbook'))(
  'ansible-playbook --syntax-check rejects them too',
  () => {
    for (const f of ANSIBLE_REJECTS) {
      it(f, async () => {
        let rc = 0;
        try {
          await promisify(execFile)('/usr/bin/ansible-playbook', ['-i', 'localhost,', '--syntax-check', f], {
            cwd: BAD,
            env: { ...process.env, ANSIBLE_ROLES_PATH: '/nonexistent' },
          });
        } catch (e) {
          rc = (e as { code: number }).code;
        }
        expect(rc).not.toBe(0);
      });
    }
  },
);
