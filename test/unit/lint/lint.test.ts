import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lintCommand } from '../../../cli/lint.js';
import { templateVars } from '../../../src/lint/template-vars.js';

const fx = (...p: string[]) => join(import.meta.dirname, '..', '..', 'fixtures', 'lint', ...p);

afterEach(() => {
  process.exitCode = undefined;
});

async function lint(args: string[]): Promise<{ out: string; code: number }> {
  let out = '';
  process.exitCode = undefined;
  await lintCommand({ write: (t) => (out += t) })
    .exitOverride()
    .parseAsync(['node', 'lint', ...args]);
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { out, code };
}

interface Json {
  v: number;
  errors: number;
  warnings: number;
  problems: {
    rule: string;
    severity: string;
    message: string;
    pos?: { file: string; line: number; col: number };
    hint?: string;
  }[];
}

async function json(args: string[]): Promise<{ j: Json; code: number }> {
  const r = await lint([...args, '--format', 'json']);
  return { j: JSON.parse(r.out) as Json, code: r.code };
}

const at = (p: Json['problems'][number]) =>
  `${p.pos?.file.split('/fixtures/lint/')[1] ?? p.pos?.file}:${p.pos?.line}:${p.pos?.col} ${p.rule}`;

describe('drover lint', () => {
  it('finds nothing in a playbook whose every variable has a source', async () => {
    const { j, code } = await json(['-i', fx('clean', 'inventory', 'hosts.ini'), fx('clean', 'site.yml')]);
    expect(j.problems).toEqual([]);
    expect(code).toBe(0);
  });

  it('without the inventory, exactly the inventory-defined variables are undefined (the check is live)', async () => {
    const { j, code } = await json([fx('clean', 'site.yml')]);
    expect(j.problems.map((p) => p.message.split(' ')[0])).toEqual([
      "'inv_var'",
      "'pb_group_var'",
      "'host_var'",
    ]);
    expect(j.problems.map(at)).toEqual([
      'clean/site.yml:4:19 undefined-variable',
      'clean/site.yml:4:33 undefined-variable',
      'clean/site.yml:4:52 undefined-variable',
    ]);
    expect(code).toBe(2);
    // -e defines them too.
    const withExtra = await json(['-e', 'inv_var=1 pb_group_var=2 host_var=3', fx('clean', 'site.yml')]);
    expect(withExtra.j.problems).toEqual([]);
  });

  it('reports loader errors, undefined variables, deprecated forms with file:line:col and did-you-mean', async () => {
    const { j, code } = await json([fx('bad', 'site.yml'), fx('bad', 'rules.yml')]);
    expect(j.problems.map(at)).toEqual([
      'bad/rules.yml:9:23 undefined-variable',
      'bad/rules.yml:13:13 no-jinja-when',
      'bad/rules.yml:17:19 deprecated-bare-vars',
      'bad/rules.yml:18:7 deprecated-module',
      'bad/rules.yml:26:13 undefined-variable',
      'bad/site.yml:8:7 syntax-check[unknown-module]',
      'bad/site.yml:14:7 syntax-check[unknown-keyword]',
      'bad/templates/site.conf.j2:2:9 undefined-variable',
    ]);
    const hints = Object.fromEntries(j.problems.map((p) => [at(p), p.hint]));
    expect(hints['bad/rules.yml:9:23 undefined-variable']).toBe("did you mean 'listen_port'?");
    expect(hints['bad/site.yml:8:7 syntax-check[unknown-module]']).toBe("did you mean 'copy'?");
    expect(hints['bad/site.yml:14:7 syntax-check[unknown-keyword]']).toBe("did you mean 'when'?");
    expect(hints['bad/rules.yml:13:13 no-jinja-when']).toBe('write when: listen_port == 80');
    expect([j.errors, j.warnings]).toEqual([5, 3]);
    expect(code).toBe(2);
  });

  it('github format: one annotation per problem, relative paths, escaped', async () => {
    const { out } = await lint([fx('bad', 'rules.yml'), '--format', 'github']);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toBe(
      `::error file=${fx('bad', 'rules.yml').replace(`${process.cwd()}/`, '')},line=9,col=23,title=undefined-variable::'listen_prot' is undefined: no vars, vars file, role, register, set_fact, fact, magic variable, extra var or inventory (none given) defines it%0Adid you mean 'listen_port'?`,
    );
    expect(lines[1]).toMatch(
      /^::warning file=test\/fixtures\/lint\/bad\/rules.yml,line=13,col=13,title=no-jinja-when::/,
    );
  });

  it('human format and exit codes: warnings alone pass unless --strict', async () => {
    const r = await lint([fx('bad', 'warnings.yml')]);
    expect(r.out).toContain('bad/warnings.yml:10:13: warning [no-jinja-when]');
    expect(r.out).toContain('0 error(s), 1 warning(s)');
    expect(r.code).toBe(0);
    expect((await lint(['--strict', fx('bad', 'warnings.yml')])).code).toBe(2);
  });

  it('warns when a bare variable in when only ever holds strings like "false" (true in Ansible)', async () => {
    // Checked with ansible-core 2.14: the first and third tasks run, the second is skipped.
    const { j, code } = await json(['-i', fx('bool', 'hosts.ini'), fx('bool', 'site.yml')]);
    expect(j.problems.map((p) => `${at(p)} ${p.message.split(':')[0]}`)).toEqual([
      `bool/site.yml:12:13 bare-var-string-condition 'enable_feature' is the string "false"`,
      `bool/site.yml:16:13 bare-var-string-condition 'debug_mode' is the string "no"`,
      `bool/site.yml:20:13 bare-var-string-condition 'inline_flag' is the string "no"`,
    ]);
    expect(j.problems[0]?.hint).toBe('write when: enable_feature | bool (or give it a YAML boolean)');
    expect(code).toBe(0);
  });

  it('proves nothing when a source is known only at run time (a templated include), and says so', async () => {
    const { j, code } = await json([fx('dynamic', 'site.yml')]);
    expect(j.problems.map((p) => [p.rule, p.severity])).toEqual([['undefined-variable', 'info']]);
    expect(j.problems[0]?.message).toMatch(
      /^undefined variables not checked in .*: include_tasks at .*site.yml:5 /,
    );
    expect([j.errors, j.warnings, code]).toEqual([0, 0, 0]);
    // An info never fails the job, even with --strict; in GitHub it is a notice.
    expect((await lint(['--strict', fx('dynamic', 'site.yml')])).code).toBe(0);
    expect((await lint(['--format', 'github', fx('dynamic', 'site.yml')])).out).toMatch(/^::notice file=/);
    expect((await lint([fx('dynamic', 'site.yml')])).out).toMatch(
      /info \[undefined-variable\].*\nno problems found\n$/,
    );
  });

  it('a missing playbook is an error finding', async () => {
    const { j, code } = await json([fx('nope.yml')]);
    expect(j.problems.map((p) => p.rule)).toEqual(['load-failure']);
    expect(code).toBe(2);
  });
});

describe('templateVars', () => {
  it('finds free variables, not bound, guarded, filter, test or function names', () => {
    const tv = templateVars(
      "{% set s = 1 %}{% for x in xs %}{{ x.a | map(attribute=k) | join(sep) }}{{ loop.index }}{% endfor %}{{ s }} {{ lookup('env', e) }} {{ y is defined }} {{ z | default(w) }} {{ d[key].q }} {{ n is sameas(m) }}",
      'template',
    );
    expect(tv?.refs.map((r) => r.name)).toEqual(['xs', 'k', 'sep', 'e', 'w', 'd', 'key', 'n', 'm']);
    expect([...(tv?.guarded ?? [])].sort()).toEqual(['y', 'z']);
  });

  it('reads bare expressions with their own columns, and Jinja nunjucks lacks (item.0, slices)', () => {
    const tv = templateVars('a.0 == b[1:] and c is not defined', 'expression');
    // Columns are the parser's (after the item.0 rewrite); lint re-checks them on the source line.
    expect(tv?.refs.map((r) => r.name)).toEqual(['a', 'b']);
    expect(tv?.refs[0]).toEqual({ name: 'a', line: 0, col: 0 });
    expect([...(tv?.guarded ?? [])]).toEqual(['c']);
    expect(templateVars('{{ unclosed', 'template')).toBeUndefined();
  });
});
