import { describe, expect, it } from 'vitest';
import { conditionalSyntaxError, templateSyntaxError } from '../../../src/playbook/expression.js';

// Valid Jinja as Ansible playbooks write it: none of these may be flagged.
const VALID = [
  'x is defined',
  'x is not defined',
  "a in b and 'foo' not in c.stdout",
  "x | default('a') == 'b'",
  "ansible_distribution_version is version('12', '>=')",
  'item.0 == 1',
  'result.stdout_lines.0 is defined',
  'x.1.a',
  '1.5 > x',
  'x[1:]',
  'x[:2] == y',
  'x[::-1]',
  "(v | rejectattr('e') | list)[keep:]",
  "{'a': 1}['a'] == 1",
  "lookup('env', 'HOME') != ''",
  'x if y else z',
  "'%s' % x",
  'x // 2 == 1 or x ** 2 > 3',
  "x ~ 'y'",
  'True',
  'not (a in b)',
  "{{ x }} == 'y'",
  '',
];

const INVALID: [string, RegExp][] = [
  ['x ==', /unexpected token/],
  ['x | | y', /expected symbol/],
  ['(x', /expected comma/],
  ['x is defined and', /unexpected token/],
  ["'unclosed", /unclosed string or bracket/],
  ['x[1:', /./],
];

describe('conditionalSyntaxError', () => {
  for (const e of VALID) {
    it(`accepts ${JSON.stringify(e)}`, () => {
      expect(conditionalSyntaxError(e)).toBeUndefined();
    });
  }
  for (const [e, re] of INVALID) {
    it(`rejects ${JSON.stringify(e)}`, () => {
      expect(conditionalSyntaxError(e)).toMatch(re);
    });
  }
  it('ignores non-strings (booleans are valid conditionals)', () => {
    expect(conditionalSyntaxError(true)).toBeUndefined();
  });
});

describe('templateSyntaxError', () => {
  it('checks only values with Jinja in them', () => {
    expect(templateSyntaxError('plain text (with a paren')).toBeUndefined();
    expect(templateSyntaxError('{{ items | map(attribute="x") | list }}')).toBeUndefined();
    expect(templateSyntaxError('{% for i in x %}{% do y.append(i) %}{% endfor %}')).toBeUndefined();
    expect(templateSyntaxError('{{ x | bad( }}')).toMatch(/unexpected token/);
  });
});
