import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode, type Problem, ValidationError } from '../../../src/errors.js';
import { checkPlaybook, loadPlaybook } from '../../../src/playbook/load.js';

const DIR = resolve('test/fixtures/playbooks/bad');

interface Expect {
  file: string;
  /** Where the problem points, when not the playbook itself. */
  at?: string;
  line: number;
  col: number;
  message: RegExp;
  hint?: RegExp;
}

const CASES: Expect[] = [
  {
    file: 'unknown-filter.yml',
    line: 5,
    col: 9,
    message: /^template error in 'debug\.msg': no filter named 'uppper'$/,
    hint: /did you mean 'upper'\?/,
  },
  {
    file: 'unknown-test.yml',
    line: 4,
    col: 13,
    message: /^template error in 'when': no test named 'defind'$/,
    hint: /did you mean 'defined'\?/,
  },
  {
    file: 'undefined-import-var.yml',
    line: 3,
    col: 21,
    message:
      /^import_tasks file 'tasks\/\{\{ tasks_flavour \}\}\.yml' cannot be resolved when the playbook is loaded$/,
    hint: /static imports are resolved before any host is contacted/,
  },
  {
    file: 'missing-template.yml',
    line: 4,
    col: 14,
    message: /^template: could not find or access 'templates\/nope\.j2' on the controller$/,
    hint: /looked in: .*bad\/templates\/nope\.j2/,
  },
  {
    file: 'keyword-typo.yml',
    line: 5,
    col: 7,
    message: /^'whne' is not a valid attribute for a Task$/,
    hint: /did you mean 'when'\?/,
  },
  {
    file: 'module-typo.yml',
    line: 4,
    col: 7,
    message: /^couldn't resolve module\/action 'debg'\. This often indicates a misspelling/,
    hint: /did you mean 'debug'\?/,
  },
  { file: 'bad-indentation.yml', line: 6, col: 1, message: /^YAML syntax error: /, hint: /indentation/ },
  { file: 'tab-indentation.yml', line: 4, col: 2, message: /^YAML syntax error: /, hint: /tabs/ },
  {
    file: 'unknown-argument.yml',
    line: 6,
    col: 9,
    message: /^copy: Unsupported parameters for \(copy\) module: dset\./,
    hint: /did you mean 'dest' for 'dset'\?/,
  },
  {
    file: 'wrong-type.yml',
    line: 5,
    col: 9,
    message: /argument 'verbosity' is of type str and we were unable to convert to int/,
  },
  {
    file: 'missing-vars-file.yml',
    line: 4,
    col: 7,
    message: /^vars file vars\/nope\.yml was not found$/,
    hint: /relative to the playbook/,
  },
  {
    file: 'missing-role.yml',
    line: 3,
    col: 7,
    message: /^the role 'webserverr' was not found in .*bad\/roles:.*:.*bad$/,
    hint: /roles_path/,
  },
  {
    file: 'missing-import.yml',
    line: 3,
    col: 21,
    message: /could not find or access the imported tasks file 'tasks\/does-not-exist\.yml'/,
    hint: /looked in: .*bad\/tasks\/does-not-exist\.yml/,
  },
  {
    file: 'circular-import.yml',
    at: 'tasks/b.yml',
    line: 2,
    col: 17,
    message:
      /^circular import_tasks: circular-import\.yml -> tasks\/a\.yml -> tasks\/b\.yml -> tasks\/a\.yml$/,
  },
  {
    file: 'role-cycle.yml',
    at: 'roles/loop_b/meta/main.yml',
    line: 2,
    col: 11,
    message: /^role dependency cycle: loop_a -> loop_b -> loop_a$/,
  },
  { file: 'two-actions.yml', line: 5, col: 7, message: /^conflicting action statements: copy, file$/ },
  { file: 'bad-when.yml', line: 5, col: 13, message: /^template error in 'when: result\.rc == == 0': / },
  { file: 'loop-and-with.yml', line: 6, col: 7, message: /^duplicate loop in task: items$/ },
  {
    file: 'play-without-hosts.yml',
    line: 1,
    col: 3,
    message: /^the field 'hosts' is required but was not set$/,
  },
  {
    file: 'handlers-not-list.yml',
    line: 4,
    col: 5,
    message: /^'handlers' must be a list of tasks, got a mapping$/,
  },
  {
    file: 'unclosed-quote.yml',
    line: 4,
    col: 13,
    message: /unbalanced jinja2 block or quotes/,
    hint: /close the quote/,
  },
  {
    file: 'play-keyword-typo.yml',
    line: 2,
    col: 3,
    message: /^'gather_fact' is not a valid attribute for a Play$/,
    hint: /did you mean 'gather_facts'\?/,
  },
  {
    file: 'tasks-not-list.yml',
    line: 3,
    col: 5,
    message: /^'tasks' must be a list of tasks, got a mapping$/,
  },
  { file: 'when-wrong-type.yml', line: 5, col: 9, message: /^'when' must be a string .* got a mapping$/ },
  {
    file: 'unclosed-yaml-quote.yml',
    line: 5,
    col: 1,
    message: /^YAML syntax error: Missing closing "quote/,
    hint: /quote/,
  },
  { file: 'extra-params.yml', line: 4, col: 13, message: /^this task 'file' has extra params/ },
  {
    file: 'meta-typo.yml',
    line: 3,
    col: 13,
    message: /^invalid meta action requested: flush_handler$/,
    hint: /did you mean 'flush_handlers'\?/,
  },
  {
    file: 'block-keyword.yml',
    line: 5,
    col: 7,
    message: /^'resuce' is not a valid attribute for a Block$/,
    hint: /did you mean 'rescue'\?/,
  },
  {
    file: 'loop-control.yml',
    line: 6,
    col: 9,
    message: /^'loopvar' is not a valid attribute for a LoopControl$/,
    hint: /did you mean 'loop_var'\?/,
  },
  {
    file: 'missing-import-playbook.yml',
    line: 1,
    col: 20,
    message: /^could not find the imported playbook 'nope\.yml'/,
  },
  {
    file: 'not-a-list.yml',
    line: 1,
    col: 1,
    message: /^A playbook must be a list of plays, got a mapping instead$/,
  },
  { file: 'import-loop.yml', line: 3, col: 7, message: /^You cannot use loops on 'import_tasks' statements/ },
  {
    file: 'bool-keyword.yml',
    line: 5,
    col: 15,
    message: /^the field 'become' has an invalid value \("maybe"\), and could not be converted to a bool$/,
    hint: /true or false/,
  },
  {
    file: 'import-playbook-in-tasks.yml',
    line: 3,
    col: 7,
    message: /^'import_playbook' is not valid in a task list$/,
    hint: /top level of a playbook/,
  },
  {
    file: 'tasks-file-as-playbook.yml',
    line: 1,
    col: 3,
    message: /^this playbook entry is a task \('lineinfile'\), not a play$/,
    hint: /import_tasks/,
  },
  {
    file: 'loop-bare-variable.yml',
    line: 7,
    col: 13,
    message: /^Invalid data passed to 'loop', it requires a list, got this instead: users$/,
    hint: /loop: "\{\{ users \}\}"/,
  },
  {
    file: 'block-typo.yml',
    line: 4,
    col: 7,
    message: /^'blcok' is not a valid attribute for a Task$/,
    hint: /did you mean 'block'\?/,
  },
  {
    file: 'two-documents.yml',
    line: 3,
    col: 1,
    message: /^expected a single document in the stream, found 2/,
    hint: /---/,
  },
  {
    file: 'no-action.yml',
    line: 3,
    col: 7,
    message: /^no module\/action detected in task\.$/,
    hint: /needs one module/,
  },
  {
    file: 'bad-variable-name.yml',
    line: 3,
    col: 5,
    message: /^Invalid variable name in vars specified for Play: 'my-var' is not a valid variable name$/,
    hint: /letters, digits and underscores/,
  },
];

function errors(file: string): Problem[] {
  return checkPlaybook(join(DIR, file)).problems.filter((p) => p.severity !== 'warning');
}

describe('bad playbooks: one clear error each, with file:line:col', () => {
  it('covers every single-problem fixture in the directory', () => {
    const files = readdirSync(DIR).filter(
      (f) => f.endsWith('.yml') && f !== 'several.yml' && f !== 'duplicate-key.yml',
    );
    expect(files.sort()).toEqual(CASES.map((c) => c.file).sort());
  });

  for (const c of CASES) {
    it(c.file, () => {
      const errs = errors(c.file);
      expect(errs, JSON.stringify(errs, null, 1)).toHaveLength(1);
      const p = errs[0]!;
      expect(p.message).toMatch(c.message);
      expect(p.pos).toEqual({ file: join(DIR, c.at ?? c.file), line: c.line, col: c.col });
      if (c.hint) expect(p.hint).toMatch(c.hint);
    });
  }

  it('loadPlaybook throws one ValidationError with exit code 4', () => {
    let err: unknown;
    try {
      loadPlaybook(join(DIR, 'module-typo.yml'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).exitCode).toBe(ExitCode.parse);
    expect((err as ValidationError).message).toContain(
      `${join(DIR, 'module-typo.yml')}:4:7: couldn't resolve`,
    );
  });

  it('a duplicate key is a warning with its position (Ansible warns and keeps the last)', () => {
    const r = checkPlaybook(join(DIR, 'duplicate-key.yml'));
    expect(r.problems).toEqual([
      {
        message: "duplicate key 'copy' in a task: the last one wins",
        severity: 'warning',
        pos: { file: join(DIR, 'duplicate-key.yml'), line: 7, col: 7 },
      },
    ]);
    expect(() => loadPlaybook(join(DIR, 'duplicate-key.yml'))).not.toThrow();
  });
});

describe('a copy/template source missing on the controller', () => {
  const play = (tasks: string): string => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-src-'));
    writeFileSync(join(dir, 'site.yml'), `- hosts: all\n  tasks:\n${tasks}`);
    return join(dir, 'site.yml');
  };
  const copyMissing = '    - copy: { src: fetched/motd, dest: /etc/motd }\n';

  it('is an error when no task can write on the controller', () => {
    const r = checkPlaybook(play(copyMissing));
    expect(r.problems.map((p) => [p.severity, p.message])).toEqual([
      ['error', "copy: could not find or access 'fetched/motd' on the controller"],
    ]);
  });

  it.each([
    ['fetch', '    - fetch: { src: /etc/motd, dest: fetched/motd, flat: true }\n'],
    ['delegate_to: localhost', '    - command: touch x\n      delegate_to: localhost\n'],
    ['local_action', '    - local_action: command touch x\n'],
    ['a templated delegate_to', '    - command: touch x\n      delegate_to: "{{ builder }}"\n'],
  ])('is a warning when a task may create it (%s): Ansible fails it only when it runs', (_, writer) => {
    const r = checkPlaybook(play(writer + copyMissing));
    expect(r.problems.map((p) => [p.severity, p.message])).toEqual([
      [
        'warning',
        "copy: could not find or access 'fetched/motd' on the controller; the task fails unless an earlier task creates it",
      ],
    ]);
  });
});

describe('several problems in one file', () => {
  it('reports every one of them in a single pass, in source order', () => {
    const f = join(DIR, 'several.yml');
    const got = errors('several.yml').map((p) => `${p.pos?.line}:${p.pos?.col} ${p.message.slice(0, 40)}`);
    expect(got).toEqual([
      '2:16 vars file vars/missing.yml was not found',
      "5:7 couldn't resolve module/action 'debg'. T",
      '9:9 copy: Unsupported parameters for (copy) ',
      "12:7 'whn' is not a valid attribute for a Tas",
      "15:13 template error in 'when: (x': parseAggre",
      "16:3 the field 'hosts' is required but was no",
      "17:11 the role 'nosuchrole' was not found in /",
    ]);
    expect(() => loadPlaybook(f)).toThrow(/7 problems found/);
  });
});
