/**
 * Jinja that nunjucks lacks and Ansible playbooks use (src/template/engine.ts patches). The
 * expected values are Jinja2's, as ansible-core 2.14 renders them (the same constructs are
 * compared with ansible-playbook in test/e2e/corpus/filters.yml and templates/page.j2).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Templar } from '../../../src/template/templar.js';

const t = new Templar();
const vars = {
  nums: [3, 1, 2, 3, 5],
  pairs: [
    ['a', 1],
    ['b', 2],
  ],
  item: [{ name: 'n' }, 'k1'],
  x: 'X',
};
const render = (src: string) => t.renderTemplateFile(src, vars, { path: '' });

describe('Jinja beyond nunjucks', () => {
  it('set ns.attr assigns on a namespace() only, as Jinja2', () => {
    expect(
      render(
        '{% set ns = namespace(n=0) %}{% for n in nums %}{% set ns.n = ns.n + n %}{% endfor %}{{ ns.n }}',
      ),
    ).toBe('14');
    expect(() => render('{% set d = {} %}{% set d.x = 1 %}')).toThrow(
      /cannot assign attribute on non-namespace object/,
    );
  });

  it('set a, b = ... unpacks; a length mismatch is an error, as in Python', () => {
    expect(render('{% set k, v = pairs[1] %}{{ v }}{{ k }}')).toBe('2b');
    expect(() => render('{% set a, b = nums %}')).toThrow(/too many values to unpack \(expected 2\)/);
    expect(() => render('{% set a, b, c = pairs[0] %}')).toThrow(
      /not enough values to unpack \(expected 3, got 2\)/,
    );
  });

  it('with: its names and sets stay inside; its values see the outer scope; bad forms fail', () => {
    expect(render('{% with y = x | lower, x = 1 %}{{ x }}{{ y }}{% endwith %}{{ x }}')).toBe('1xX');
    expect(render('{% with %}{% set x = 2 %}{{ x }}{% endwith %}{{ x }}')).toBe('2X');
    expect(render('{% with a = 1 %}{% with b = a + 1 %}{{ a }}{{ b }}{% endwith %}{% endwith %}')).toBe('12');
    expect(() => render('{% with a.b = 1 %}{% endwith %}')).toThrow(/with can only assign to names/);
    expect(() => render('{% with a 1 %}{% endwith %}')).toThrow(/expected '=' after a in with/);
    expect(() => render('{% with a = 1 %}')).toThrow(/unexpected end of file/);
  });

  it('for ... if filters before loop.* counts', () => {
    expect(
      render('{% for n in nums if n is odd %}{{ loop.index }}/{{ loop.length }}:{{ n }} {% endfor %}'),
    ).toBe('1/4:3 2/4:1 3/4:3 4/4:5 ');
    expect(render('{% for k, v in pairs if v > 1 %}{{ k }}{{ v }}{% endfor %}')).toBe('b2');
  });

  it('loop.previtem, loop.nextitem, loop.cycle', () => {
    expect(
      render(
        "{% for n in [1, 2, 3] %}{{ loop.previtem | default('-') }}{{ n }}{{ loop.nextitem | default('-') }}{{ loop.cycle('a', 'b') }} {% endfor %}",
      ),
    ).toBe('-12a 123b 23-a ');
  });

  it('integer attributes and tests with a bare argument', () => {
    expect(t.template('{{ item.0.name }}-{{ item.1 }}', vars)).toBe('n-k1');
    expect(t.template('{{ [3 is in nums, 4 is in nums, 9 is divisibleby 3, 1.5 + 1] }}', vars)).toEqual([
      true,
      false,
      true,
      2.5,
    ]);
  });

  it('trim_blocks after comments and endraw; a single trailing newline dropped before rendering', () => {
    expect(render('{# c #}\na{% raw %}{{ x }}{% endraw %}\nb')).toBe('a{{ x }}b');
    expect(t.template("{{ {'a': [1]} | to_json }}\n", vars)).toBe('{"a": [1]}\n');
    expect(t.template("{{ {'a': [1]} }}\n", vars)).toEqual({ a: [1] });
  });

  it('include and import relative to the template file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-jinja-'));
    writeFileSync(join(dir, 'macros.j2'), '{% macro kv(k, v) -%}\n{{ k }}={{ v }}\n{%- endmacro %}\n');
    writeFileSync(join(dir, 'part.j2'), 'part {{ x }}\n');
    const main = "{% import 'macros.j2' as m %}{{ m.kv('a', 1) }}|{% include 'part.j2' %}|end\n";
    expect(t.renderTemplateFile(main, vars, { path: join(dir, 'main.j2') })).toBe('a=1|part X|end\n');
  });
});
