import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPlaybook, loadPlaybook } from '../../../src/playbook/load.js';
import type { BlockNode, Play, PlayNode, TaskNode } from '../../../src/playbook/types.js';

const GOOD = resolve('test/fixtures/playbooks/good');

function task(nodes: PlayNode[], name: string): TaskNode {
  for (const n of nodes) {
    if (n.kind === 'task' && n.name === name) return n;
    if (n.kind === 'block') {
      const t = (() => {
        try {
          return task([...n.block, ...n.rescue, ...n.always], name);
        } catch {
          return undefined;
        }
      })();
      if (t) return t;
    }
  }
  throw new Error(`no task named ${name}`);
}

describe('site.yml: the tree for each construct', () => {
  const pb = loadPlaybook(join(GOOD, 'site.yml'));
  const [web, main] = pb.plays as [Play, Play];

  it('import_playbook brings in the plays with the import when/tags/vars applied', () => {
    expect(pb.plays).toHaveLength(2);
    expect(web.name).toBe('Web');
    expect(web.file).toBe(join(GOOD, 'web.yml'));
    expect(web.tags.sort()).toEqual(['web', 'webplay']);
    expect(web.keywords.vars).toEqual({ web_port: 8080 });
    const t = task(web.tasks, 'Web task');
    expect(t.when).toEqual(['deploy_web | default(true)']);
    expect(t.tags.sort()).toEqual(['web', 'webplay']);
  });

  it('play keywords and vars_files are kept raw', () => {
    expect(main.kind).toBe('play');
    expect(main.hosts).toBe('all');
    expect(main.gather_facts).toBe(false);
    expect(main.serial).toBe(2);
    expect(main.vars_files).toEqual(['vars/common.yml']);
    expect(main.keywords.vars).toEqual({ greeting: 'hello', task_file: 'extra.yml' });
    expect(main.baseDir).toBe(GOOD);
    expect(main.pos).toEqual({ file: join(GOOD, 'site.yml'), line: 8, col: 3 });
  });

  it('roles: params, vars at the use site, defaults (main/ dir), meta dependencies, handlers', () => {
    const [common, app] = main.roles;
    expect(common?.name).toBe('common');
    expect(common?.path).toBe(join(GOOD, 'roles/common'));
    expect(common?.defaults).toEqual({ common_default: 'd' });
    expect(common?.vars).toEqual({ common_var2: 'v' });
    expect(common?.dependencies.map((d) => [d.name, d.params, d.allowDuplicates])).toEqual([
      ['base', { base_flag: true }, true],
    ]);
    expect(common?.handlers.map((h) => (h as TaskNode).name)).toEqual(['common handler']);
    expect(app?.params).toEqual({ app_port: 8080, app_user: 'deploy' });
    expect(app?.defaults).toEqual({ a: 3, b: 2 });
    const appTask = task(app!.tasks, 'App task');
    expect(appTask.origin.role).toBe(app);
    expect(appTask.tags).toEqual(['app']);
    expect(appTask.when).toEqual(['with_app | default(true)']);
    // A role's use-site vars are role params, not task vars.
    expect(appTask.keywords.vars).toBeUndefined();
    const install = task(app!.tasks, 'Install app');
    expect(install.origin.role).toBe(app);
    expect(install.origin.baseDir).toBe(join(GOOD, 'roles/app/tasks'));
  });

  it('module args as a mapping with an FQCN, notify as a string', () => {
    const t = task(main.tasks, 'Copy with a mapping');
    expect(t.action).toBe('copy');
    expect(t.actionAs).toBe('ansible.builtin.copy');
    expect(t.args).toEqual({ content: 'x\n', dest: '/tmp/drover-x', mode: '0644' });
    expect(t.notify).toEqual(['restart app']);
    expect(t.pos).toEqual({ file: join(GOOD, 'site.yml'), line: 29, col: 7 });
  });

  it('free-form shell keeps the command in _raw_params and pulls out creates/chdir', () => {
    expect(task(main.tasks, 'Free-form shell').args).toEqual({
      _raw_params: 'echo hi > /tmp/out',
      creates: '/tmp/out',
      chdir: '/tmp',
    });
  });

  it('args:, action: and local_action:', () => {
    const unnamed = main.tasks.filter((n): n is TaskNode => n.kind === 'task' && n.name === undefined);
    const [cmd, action, local] = unnamed;
    expect(cmd?.args).toEqual({ chdir: '/tmp', _raw_params: 'ls -l' });
    expect(action?.action).toBe('file');
    expect(action?.actionKey).toBe('action');
    expect(action?.args).toEqual({ path: '/tmp/d', state: 'directory' });
    expect(local?.action).toBe('command');
    expect(local?.keywords.delegate_to).toBe('localhost');
    expect(local?.args).toEqual({ _raw_params: 'echo local' });
  });

  it('with_items becomes loop + loopKind, loop_control kept', () => {
    const t = task(main.tasks, 'Loop with_items');
    expect(t.loop).toEqual([1, 2]);
    expect(t.loopKind).toBe('items');
    expect(t.loop_control).toEqual({ label: '{{ item }}' });
  });

  it('blocks carry their keywords down to their tasks', () => {
    const b = main.tasks.find((n): n is BlockNode => n.kind === 'block')!;
    expect(b.when).toEqual(['greeting is defined']);
    expect(b.tags).toEqual(['blk']);
    expect(b.keywords.become).toBe(true);
    expect(b.rescue).toHaveLength(1);
    expect(b.always).toHaveLength(1);
    const inner = task(b.block, 'In block');
    expect(inner.when).toEqual(['greeting is defined']);
    expect(inner.tags).toEqual(['blk', 'inner']);
    expect(inner.keywords.become).toBe(true);
  });

  it('import_tasks is expanded (templated name from play vars) with when/tags/vars inherited', () => {
    const extra = task(main.tasks, 'Extra one');
    expect(extra.when).toEqual(['run_extra | default(true)']);
    expect(extra.tags).toEqual(['extra', 'x1']);
    expect(extra.keywords.vars).toEqual({ extra_var: 1 });
    expect(extra.origin.baseDir).toBe(join(GOOD, 'tasks'));
    const more = task(main.tasks, 'More');
    expect(more.action).toBe('set_fact');
    expect(more.args).toEqual({ more: '1' });
    expect(more.when).toEqual(['run_extra | default(true)']);
    expect(more.pos.file).toBe(join(GOOD, 'tasks/more.yml'));
  });

  it('include_tasks and include_role stay tasks; import_role is expanded', () => {
    const tasks = main.tasks.filter((n): n is TaskNode => n.kind === 'task');
    const inc = tasks.find((t) => t.action === 'include_tasks');
    expect(inc?.args).toEqual({ _raw_params: 'tasks/nested.yml' });
    const incRole = tasks.find((t) => t.action === 'include_role');
    expect(incRole?.args).toEqual({ name: 'app', tasks_from: 'install' });
    const base = task(main.tasks, 'Base task');
    expect(base.origin.role?.name).toBe('base');
    expect(base.tags).toEqual(['imported']);
  });

  it('register, changed_when, failed_when, until, retries, delay', () => {
    const t = task(main.tasks, 'Registered');
    expect(t.register).toBe('out');
    expect(t.changed_when).toEqual([false]);
    expect(t.failed_when).toEqual(['out.rc != 0']);
    expect(t.until).toBe('out is succeeded');
    expect([t.retries, t.delay]).toEqual([3, 1]);
  });

  it('handlers: the play own ones in play.handlers, the roles ones on their RoleInstance', () => {
    expect(main.handlers.map((h) => (h as TaskNode).name)).toEqual(['restart app']);
    const h = main.handlers[0] as TaskNode;
    expect(h.handler).toBe(true);
    expect(h.listen).toEqual(['app changed']);
    expect(main.roles.map((r) => r.handlers.map((t) => (t as TaskNode).name))).toEqual([
      ['common handler'],
      ['reload app'],
    ]);
  });

  it('handlers of a statically imported role join play.handlers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-ir-'));
    try {
      mkdirSync(join(dir, 'roles/r/handlers'), { recursive: true });
      mkdirSync(join(dir, 'roles/r/tasks'), { recursive: true });
      writeFileSync(join(dir, 'roles/r/handlers/main.yml'), '- name: r handler\n  debug: msg=h\n');
      writeFileSync(join(dir, 'roles/r/tasks/main.yml'), '- debug: msg=t\n  notify: r handler\n');
      writeFileSync(join(dir, 'pb.yml'), '- hosts: all\n  tasks:\n    - import_role: name=r\n');
      const { playbook, problems } = checkPlaybook(join(dir, 'pb.yml'));
      expect(problems).toEqual([]);
      expect(playbook.plays[0]!.handlers.map((h) => (h as TaskNode).name)).toEqual(['r handler']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ids are unique', () => {
    const ids: string[] = [];
    const walk = (ns: PlayNode[]) => {
      for (const n of ns) {
        ids.push(n.id);
        if (n.kind === 'block') walk([...n.block, ...n.rescue, ...n.always]);
      }
    };
    for (const p of pb.plays) {
      ids.push(p.id);
      walk([...p.pre_tasks, ...p.tasks, ...p.post_tasks, ...p.handlers]);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('forms.yml: the other ways to write a task', () => {
  const { playbook, problems } = checkPlaybook(join(GOOD, 'forms.yml'));
  const play = playbook.plays[0]!;
  const tasks = play.tasks as TaskNode[];

  it('loads without problems', () => {
    expect(problems).toEqual([]);
  });

  it('reads each form', () => {
    expect(play.hosts).toEqual(['web', 'db']);
    expect(play.vars_prompt).toEqual([{ name: 'secret', prompt: 'Secret?', private: true }]);
    expect(play.keywords.module_defaults).toEqual([{ 'ansible.builtin.file': { mode: '0644' } }]);
    const rows = tasks.map((t) => [t.action, t.actionAs, t.args]);
    expect(rows).toEqual([
      ['copy', 'copy', { src: 'a.txt', dest: '/tmp/a.txt' }],
      ['debug', 'debug', {}],
      ['set_fact', 'set_fact', { a: '1', b: 'two words' }],
      ['include_vars', 'include_vars', { _raw_params: 'vars/common.yml' }],
      ['meta', 'meta', { _raw_params: 'end_play' }],
      ['command', 'ansible.legacy.command', { _raw_params: '/bin/true' }],
      ['sysctl', 'ansible.posix.sysctl', { name: 'vm.swappiness', value: '10' }],
      ['copy', 'copy', { _variable_params: '{{ copy_args }}' }],
      ['copy', 'copy', { src: '{{ src }}', dest: '/tmp/x', mode: '{{ mode }}', force: '{{ f }}' }],
      ['file', 'file', { state: 'touch' }],
      ['raw', 'raw', { _raw_params: 'echo hi' }],
      ['shell', 'shell', { cmd: 'echo hi' }],
      ['assert', 'assert', { that: ['x is defined', 'item.0 == 1'], fail_msg: 'nope' }],
      ['debug', 'debug', { msg: 'nested' }],
    ]);
  });

  it('keeps task keywords raw', () => {
    const raw = tasks[10]!;
    expect(raw.name).toBe('{{ templated }} name');
    expect(raw.loopKind).toBe('dict');
    expect(raw.loop).toBe('{{ d }}');
    const sh = tasks[11]!;
    expect(sh.keywords).toEqual({
      become: true,
      become_user: 'root',
      ignore_errors: true,
      no_log: true,
      run_once: true,
      delegate_to: 'db',
      environment: [{ A: '1' }],
    });
    expect([sh.async, sh.poll]).toEqual([10, 0]);
    expect(tasks[2]!.tags).toEqual(['facts']);
  });
});

describe('inline playbooks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-pb-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  function check(yaml: string, files: Record<string, string> = {}) {
    for (const [f, text] of Object.entries(files)) {
      const p = join(dir, f);
      rmSync(p, { force: true });
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, text);
    }
    n += 1;
    const file = join(dir, `pb${n}.yml`);
    writeFileSync(file, yaml);
    return checkPlaybook(file);
  }

  it('a required argument is checked unless module_defaults may supply it', () => {
    const r = check('- hosts: all\n  tasks:\n    - file:\n        state: touch\n');
    expect(r.problems.map((p) => p.message)).toEqual(['file: missing required arguments: path']);
    const ok = check(
      '- hosts: all\n  module_defaults:\n    file: {path: /x}\n  tasks:\n    - file:\n        state: touch\n',
    );
    expect(ok.problems).toEqual([]);
  });

  it('templated values skip type checks but literal ones are checked', () => {
    expect(check('- hosts: all\n  tasks:\n    - debug: msg=x verbosity={{ v }}\n').problems).toEqual([]);
    expect(check('- hosts: all\n  tasks:\n    - debug: msg=x verbosity=high\n').problems).toHaveLength(1);
  });

  it('choices are checked (async_status mode)', () => {
    const r = check('- hosts: all\n  tasks:\n    - async_status: jid=1 mode=stat\n');
    expect(r.problems[0]?.message).toMatch(/value of mode must be one of: status, cleanup, got: stat/);
  });

  it('a bad expression in assert.that, changed_when and until', () => {
    const r = check(
      '- hosts: all\n  tasks:\n    - assert:\n        that: ["x ==="]\n    - command: "true"\n      changed_when: "a and"\n      until: "(b"\n',
    );
    expect(r.problems.map((p) => `${p.pos?.line}:${p.message.split(':')[0]}`)).toEqual([
      "4:template error in 'assert.that",
      "6:template error in 'changed_when",
      "7:template error in 'until",
    ]);
  });

  it('notify lists, block notify inherited, handlers listen', () => {
    const r = check(
      '- hosts: all\n  tasks:\n    - block:\n        - debug: msg=x\n      notify: h1\n    - debug: msg=y\n      notify: [h1, h2]\n  handlers:\n    - name: h1\n      debug: msg=h\n      listen: [a, b]\n',
    );
    expect(r.problems.map((p) => p.message)).toEqual([
      "the handler 'h2' notified here is not defined in this play; did you mean 'h1'?",
    ]);
    const p = r.playbook.plays[0]!;
    const b = p.tasks[0] as BlockNode;
    expect((b.block[0] as TaskNode).notify).toEqual(['h1']);
    expect((p.tasks[1] as TaskNode).notify).toEqual(['h1', 'h2']);
    expect((p.handlers[0] as TaskNode).listen).toEqual(['a', 'b']);
  });

  it('listen is not a task keyword outside handlers', () => {
    const r = check('- hosts: all\n  tasks:\n    - debug: msg=x\n      listen: a\n');
    expect(r.problems[0]?.message).toBe("'listen' is not a valid attribute for a Task");
  });

  it('a tasks file given as a playbook entry, and a module at play level, get a hint', () => {
    const r = check('- hosts: all\n  debug: msg=x\n');
    expect(r.problems[0]?.hint).toMatch(/tasks go in a list under 'tasks:'/);
  });

  it('an unresolvable templated import is reported, a resolvable one is expanded', () => {
    const files = { 'inc/t1.yml': '- name: from t1\n  debug: msg=1\n' };
    const ok = check(
      '- hosts: all\n  vars: {d: inc}\n  tasks:\n    - import_tasks: "{{ d }}/t1.yml"\n',
      files,
    );
    expect(ok.problems).toEqual([]);
    expect((ok.playbook.plays[0]!.tasks[0] as TaskNode).name).toBe('from t1');
    const bad = check('- hosts: all\n  tasks:\n    - import_tasks: "{{ hostvar }}/t1.yml"\n');
    expect(bad.problems[0]?.message).toMatch(/cannot be resolved when the playbook is loaded/);
  });

  it('circular import_playbook is reported with the chain', () => {
    const files = { 'a.yml': '- import_playbook: b.yml\n', 'b.yml': '- import_playbook: a.yml\n' };
    const r = check('- import_playbook: a.yml\n', files);
    expect(r.problems[0]?.message).toMatch(
      /^circular import_playbook: pb\d+\.yml -> a\.yml -> b\.yml -> a\.yml$/,
    );
  });

  it('a role entry key close to a keyword is a param with a warning', () => {
    const files = { 'roles/x/tasks/main.yml': '- ping:\n' };
    const r = check('- hosts: all\n  roles:\n    - role: x\n      tgas: a\n      port_num: 1\n', files);
    expect(r.problems.map((p) => [p.severity, p.pos?.line, p.message])).toEqual([
      ['warning', 4, "'tgas' is passed to the role as a parameter; did you mean the keyword 'tags'?"],
    ]);
    expect(r.playbook.plays[0]?.roles[0]?.params).toEqual({ tgas: 'a', port_num: 1 });
  });

  it('a notify that matches no handler or listen topic is a warning with a did-you-mean', () => {
    const r = check(
      '- hosts: all\n  tasks:\n    - debug: msg=x\n      notify: [restart web, reload]\n  handlers:\n    - name: restart webs\n      debug: msg=h\n    - name: other\n      debug: msg=o\n      listen: reload\n',
    );
    expect(r.problems).toEqual([
      {
        severity: 'warning',
        message:
          "the handler 'restart web' notified here is not defined in this play; did you mean 'restart webs'?",
        pos: { file: expect.stringMatching(/pb\d+\.yml$/), line: 3, col: 7 },
      },
    ]);
  });

  it('a literal include_tasks / include_vars file that is missing is a warning', () => {
    const files = { 'there.yml': '- debug: msg=1\n', 'vars/v.yml': 'a: 1\n' };
    const r = check(
      '- hosts: all\n  tasks:\n    - include_tasks: there.yml\n    - include_tasks: gone.yml\n    - include_vars: v.yml\n    - include_vars: {file: nov.yml}\n    - include_tasks: "{{ x }}.yml"\n',
      files,
    );
    expect(r.problems.map((p) => [p.severity, p.pos?.line, p.message])).toEqual([
      ['warning', 4, "include_tasks: could not find 'gone.yml'"],
      ['warning', 6, "include_vars: could not find 'nov.yml'"],
    ]);
  });

  it('!unsafe and !vault argument values validate as strings', () => {
    const r = check(
      "- hosts: all\n  tasks:\n    - debug:\n        msg: !unsafe '{{ raw }}'\n        verbosity: !unsafe '1'\n    - copy:\n        content: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          3132\n        dest: /tmp/x\n",
    );
    expect(r.problems).toEqual([]);
  });

  it('an empty task entry is skipped with a warning (Ansible accepts it); a string entry is an error', () => {
    const r = check('- hosts: all\n  tasks:\n    - debug: msg=x\n    -\n    - ping\n');
    expect(r.problems.map((p) => [p.severity, p.pos?.line, p.message, p.hint])).toEqual([
      ['warning', 4, 'an empty task entry is ignored', undefined],
      [
        'error',
        5,
        'a task must be a mapping of keywords and one module, got a string',
        `if 'ping' is a module, write it as "- ping:"`,
      ],
    ]);
    expect(r.playbook.plays[0]?.tasks).toHaveLength(1);
  });

  it('a key closer to a module than to a keyword is reported as the misspelt module', () => {
    const r = check(
      '- hosts: all\n  tasks:\n    - name: x\n      shel: ls\n    - name: y\n      debug: msg=1\n      wehn: true\n',
    );
    expect(r.problems.map((p) => [p.message.slice(0, 40), p.hint])).toEqual([
      ["couldn't resolve module/action 'shel'. T", "did you mean 'shell'?"],
      ["'wehn' is not a valid attribute for a Ta", "did you mean 'when'?"],
    ]);
  });

  it('strategy, serial and max_fail_percentage are checked when literal', () => {
    const ok = check(
      '- hosts: all\n  strategy: free\n  serial: [1, "30%", 5]\n  max_fail_percentage: 20\n  tasks: []\n- hosts: all\n  serial: "{{ n }}"\n  strategy: "{{ s }}"\n  tasks: []\n',
    );
    expect(ok.problems).toEqual([]);
    const plugin = check(
      '- hosts: all\n  strategy: mitogen_linear\n  tasks: []\n- hosts: all\n  strategy: ansible.builtin.free\n  tasks: []\n',
    );
    expect(plugin.problems.map((p) => [p.severity, p.message])).toEqual([
      [
        'warning',
        "the strategy plugin 'mitogen_linear' is not one of drover's (linear, free, host_pinned, debug)",
      ],
    ]);
    const bad = check(
      '- hosts: all\n  strategy: lineer\n  serial: some\n  max_fail_percentage: lots\n  tasks: []\n',
    );
    expect(bad.problems.map((p) => [p.pos?.line, p.message, p.hint])).toEqual([
      [2, 'Invalid play strategy specified: lineer', "did you mean 'linear'?"],
      [
        3,
        '\'serial\' must be a number of hosts, a percentage ("30%") or a list of them, got "some"',
        undefined,
      ],
      [4, '\'max_fail_percentage\' must be a number (a percentage), got "lots"', undefined],
    ]);
  });

  it('with_<lookup>: a near-miss is an error, another plugin a warning that keeps the loop', () => {
    const r = check(
      '- hosts: all\n  tasks:\n    - debug: var=item\n      with_itmes: [1]\n    - debug: var=item\n      with_hashi_vault: secret/x\n',
    );
    expect(r.problems.map((p) => [p.severity, p.message, p.hint])).toEqual([
      ['error', "'with_itmes' is not a valid attribute for a Task", "did you mean 'with_items'?"],
      ['warning', "the lookup plugin 'hashi_vault' of 'with_hashi_vault' is not one drover knows", undefined],
    ]);
    const t = r.playbook.plays[0]!.tasks[1] as TaskNode;
    expect([t.loopKind, t.loop]).toEqual(['hashi_vault', 'secret/x']);
  });

  it('ansible.builtin.import_playbook and the old top-level include both import plays', () => {
    const files = { 'p1.yml': '- hosts: a\n  tasks: []\n', 'p2.yml': '- hosts: b\n  tasks: []\n' };
    const r = check('- ansible.builtin.import_playbook: p1.yml\n- include: p2.yml\n', files);
    expect(r.problems).toEqual([]);
    expect(r.playbook.plays.map((p) => p.hosts)).toEqual(['a', 'b']);
  });

  it('import_tasks inside handlers yields handlers (listen allowed)', () => {
    const files = { 'h.yml': '- name: from file\n  debug: msg=h\n  listen: topic\n' };
    const r = check(
      '- hosts: all\n  tasks:\n    - command: "true"\n      notify: topic\n  handlers:\n    - import_tasks: h.yml\n',
      files,
    );
    expect(r.problems).toEqual([]);
    const h = r.playbook.plays[0]!.handlers[0] as TaskNode;
    expect([h.name, h.handler, h.listen]).toEqual(['from file', true, ['topic']]);
  });

  it('vault-encrypted vars files need a secret', () => {
    const files = { 'secret.yml': '$ANSIBLE_VAULT;1.1;AES256\n3132\n' };
    const r = check('- hosts: all\n  vars_files: [secret.yml]\n  tasks: []\n', files);
    expect(r.problems[0]?.message).toMatch(/is vault-encrypted and no vault secret was given/);
    const n0 = n + 1;
    const withKey = checkPlaybook(
      (() => {
        const f = join(dir, `pb${n0}.yml`);
        writeFileSync(f, '- hosts: all\n  vars_files: [secret.yml]\n  tasks: []\n');
        return f;
      })(),
      { decryptFile: () => 'k: v\n' },
    );
    expect(withKey.problems).toEqual([]);
  });
});
