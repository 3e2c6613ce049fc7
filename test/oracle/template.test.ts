/**
 * Compares Templar results with ansible-core 2.14 on the same templates: one ansible-playbook
 * run renders every case through `debug: var=out`, and each value must equal ours.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Templar } from '../../src/template/index.js';

const vars: Record<string, unknown> = {
  a: 1,
  n: 7,
  f: 2.5,
  s: 'Hello World',
  csv: 'a,b,,c',
  lst: [3, 1, 2],
  words: ['b', 'a', 'c', 'a'],
  d: { x: 1, y: [1, 2], z: { deep: 'v' } },
  users: [
    { name: 'alice', uid: 1001, groups: ['wheel', 'dev'], enabled: true },
    { name: 'bob', uid: 1000, groups: ['dev'], enabled: false },
  ],
  nested: '{{ a + 1 }}',
  chain: '{{ nested }}-x',
  listy: '{{ lst }}',
  nullv: null,
  flag: 'yes',
  path: '/etc/nginx/nginx.conf',
  ver: '2.14.3',
  reg: { changed: true, failed: false, rc: 0, stdout: 'ok' },
};

const cases: Record<string, string> = {
  int_arith: '{{ a + 1 }}',
  single_int: '{{ a }}',
  single_null: '{{ nullv }}',
  native_list: '{{ lst }}',
  list_mixed: 'x{{ lst }}',
  list_plus: '{{ lst + [4] }}',
  str_repeat: "{{ '-' * 3 }}",
  or_value: '{{ [] or 5 }}',
  split: "{{ csv.split(',') }}",
  split_max: "{{ csv.split(',', 1) }}",
  rsplit: "{{ path.rsplit('/', 1) }}",
  startswith: "{{ s.startswith('Hell') }}",
  upper_m: '{{ s.upper() }}',
  replace_m: "{{ s.replace('World', 'There') }}",
  format_m: "{{ '{} and {}'.format(a, s) }}",
  items: '{{ d.items() | list }}',
  keys: '{{ d.keys() | list }}',
  get: "{{ d.get('nope', 'dflt') }}",
  nested_var: '{{ nested }}',
  chain_var: '{{ chain }}',
  listy_var: '{{ listy | length }}',
  default_undef: '{{ missing | default(3) }}',
  default_attr: '{{ missing.attr | default(4) }}',
  default_false: "{{ '' | default('e', true) }}",
  defined: '{{ missing is defined }}',
  not_defined: '{{ missing is not defined }}',
  slice: '{{ s[1:4] }}',
  slice_neg: '{{ lst[-1] }}',
  py_true: '{{ True }}',
  bool_str: '{{ a == 1 }}',
  concat_tilde: "{{ a ~ 'x' ~ lst }}",
  ternary: "{{ 'yes' if a > 0 else 'no' }}",
  loop: '{% for i in lst %}{{ loop.index }}:{{ i }} {% endfor %}',
  ws_control: '{%- for i in lst -%} {{ i }} {%- endfor -%}',
  div: '{{ n / 2 }}',
  div_int: '{{ 4 / 2 }}',
  floordiv: '{{ n // 2 }}',
  mod: '{{ n % 3 }}',
  pow: '{{ 2 ** 10 }}',
  percent_fmt: "{{ '%05d-%s' % (n, 'x') }}",
  dict_lit: "{{ {'k': a, 'l': [1, 2]} }}",
  dict_str: "d={{ {'k': a, 'b': True, 'n': None} }}",
  float_f: '{{ f }}',
  float_filter: "{{ '3' | float }}",
  int_filter: "{{ '42' | int + 1 }}",
  bool_filter: '{{ flag | bool }}',
  lower: '{{ s | lower }}',
  title: "{{ 'hello wORLD' | title }}",
  capitalize: "{{ 'hello WORLD' | capitalize }}",
  trim: "{{ '  x  ' | trim }}",
  regex_replace: "{{ path | regex_replace('^/etc/(\\\\w+)/.*$', '\\\\1') }}",
  regex_search: "{{ s | regex_search('W\\\\w+') }}",
  regex_findall: "{{ 'a1b22c333' | regex_findall('\\\\d+') }}",
  regex_escape: "{{ '1.2[3]' | regex_escape }}",
  join: "{{ words | join('-') }}",
  length: '{{ words | length }}',
  first_last: '{{ lst | first }}{{ lst | last }}',
  min_max: '{{ lst | min }}{{ lst | max }}',
  sum: '{{ lst | sum }}',
  unique: '{{ words | unique }}',
  union: '{{ lst | union([5, 1]) }}',
  intersect: '{{ lst | intersect([2, 3, 9]) }}',
  difference: '{{ lst | difference([1]) }}',
  symdiff: '{{ lst | symmetric_difference([1, 9]) }}',
  sort: '{{ lst | sort }}',
  sort_rev: '{{ words | sort(reverse=true) }}',
  sort_attr: "{{ users | sort(attribute='uid') | map(attribute='name') | list }}",
  reverse: '{{ lst | reverse | list }}',
  dict2items: '{{ d | dict2items }}',
  items2dict: "{{ [{'key': 'a', 'value': 1}] | items2dict }}",
  combine: "{{ d | combine({'x': 2, 'z': {'new': 1}}) }}",
  combine_rec: "{{ d | combine({'z': {'new': 1}}, recursive=true) }}",
  combine_append: "{{ d | combine({'y': [3]}, list_merge='append') }}",
  map_attr: "{{ users | map(attribute='name') | list }}",
  map_filter: "{{ words | map('upper') | list }}",
  select: '{{ [0, 1, 2, 3] | select | list }}',
  select_test: "{{ [1, 2, 3, 4] | select('even') | list }}",
  reject: "{{ [1, 2, 3, 4] | reject('odd') | list }}",
  selectattr: "{{ users | selectattr('enabled') | map(attribute='name') | list }}",
  selectattr_eq: "{{ users | selectattr('uid', 'equalto', 1000) | map(attribute='name') | first }}",
  rejectattr: "{{ users | rejectattr('enabled') | map(attribute='name') | list }}",
  zip: '{{ lst | zip(words) | list }}',
  flatten: '{{ [1, [2, [3, [4]]]] | flatten }}',
  flatten1: '{{ [1, [2, [3, [4]]]] | flatten(levels=1) }}',
  basename: '{{ path | basename }}',
  dirname: '{{ path | dirname }}',
  splitext: '{{ path | splitext }}',
  quote: '{{ "it\'s" | quote }}',
  to_json: '{{ d | to_json }}',
  to_nice_json: '{{ d | to_nice_json }}',
  from_json: '{{ \'{"a": [1, true]}\' | from_json }}',
  to_yaml: '{{ d | to_yaml }}',
  to_nice_yaml: '{{ d | to_nice_yaml }}',
  from_yaml: "{{ 'a: [1, 2]' | from_yaml }}",
  b64: "{{ 'hello' | b64encode }}",
  b64d: "{{ 'aGVsbG8=' | b64decode }}",
  hash_sha1: "{{ 'hello' | hash('sha1') }}",
  hash_md5: "{{ 'hello' | hash('md5') }}",
  checksum: "{{ 'hello' | checksum }}",
  pw_sha512: "{{ 'secret' | password_hash('sha512', 'mysalt') }}",
  pw_sha256: "{{ 'secret' | password_hash('sha256', 'mysalt') }}",
  pw_md5: "{{ 'secret' | password_hash('md5', 'mysalt') }}",
  ternary_f: "{{ (a == 1) | ternary('one', 'other') }}",
  type_list: '{{ lst | type_debug }}',
  type_str: "{{ (s ~ '') | type_debug }}",
  dictsort: '{{ d | dictsort }}',
  groupby: "{{ users | groupby('enabled') }}",
  version_cmp: "{{ ver is version('2.10', '>=') }}",
  version_test2: "{{ ver is version_compare('2.15', '<') }}",
  abs: '{{ -3 | abs }}',
  round: '{{ 2.567 | round(2) }}',
  round0: '{{ 2.5 | round }}',
  center: "{{ 'ab' | center(6) }}",
  wordcount: '{{ s | wordcount }}',
  urlencode: "{{ 'a b&c' | urlencode }}",
  batch: '{{ [1, 2, 3, 4, 5] | batch(2) | list }}',
  in_op: '{{ 2 in lst }}',
  not_in: "{{ 'z' not in words }}",
  str_in: "{{ 'World' in s }}",
  is_string: '{{ s is string }}',
  is_number: '{{ a is number }}',
  is_mapping: '{{ d is mapping }}',
  is_iterable: '{{ lst is iterable }}',
  is_sequence: '{{ s is sequence }}',
  is_none: '{{ nullv is none }}',
  is_match: "{{ s is match('Hel') }}",
  is_search: "{{ s is search('World') }}",
  is_subset: '{{ [1, 2] is subset(lst) }}',
  is_superset: '{{ lst is superset([1]) }}',
  is_changed: '{{ reg is changed }}',
  is_succeeded: '{{ reg is succeeded }}',
  is_failed: '{{ reg is failed }}',
  is_skipped: '{{ reg is skipped }}',
  range_list: '{{ range(1, 10, 3) | list }}',
  subelements: "{{ users | subelements('groups') | map('last') | list }}",
  extract: "{{ ['x', 'y'] | map('extract', d) | list }}",
  mandatory: '{{ a | mandatory }}',
  comment: "{{ 'hello' | comment }}",
  indent: "{{ 'a\\nb' | indent(2) }}",
  lookup_items: "{{ lookup('items', [1, 2]) }}",
  query_items: "{{ query('items', [1, [2]]) }}",
  lookup_seq: "{{ lookup('sequence', 'start=1 end=3 format=n%d', wantlist=True) }}",
  lookup_dict: "{{ lookup('dict', {'a': 1}) }}",
  lookup_indexed: "{{ query('indexed_items', ['a', 'b']) }}",
  lookup_together: "{{ query('together', [1, 2], ['a']) }}",
  lookup_nested: "{{ query('nested', [1, 2], ['a']) }}",
  lookup_vars: "{{ lookup('vars', 'nested') }}",
  lookup_pipe: "{{ lookup('pipe', 'echo hi') }}",
  python_none_print: 'v={{ nullv }}',
  bool_print: 'v={{ a == 1 }}',
  dict_get_attr: '{{ d.z.deep }}',
  dict_bracket: "{{ d['y'][0] }}",
  chained_cmp: '{{ 1 < a + 1 < 3 }}',
  list_eq: '{{ [1, 2] == [1, 2] }}',
  str_int_eq: "{{ '1' == 1 }}",
  json_like_text: "{{ '[1, 2]' }}",
  bool_text: "{{ 'True' }}",
  macro: '{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(a) }}',
  set_stmt: '{% set y = a * 10 %}{{ y }}',
  namespace_flag:
    '{% set ns = namespace(found=false) %}{% for u in users %}{% if u.enabled %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}',
  namespace_acc:
    "{% set ns = namespace(names=[]) %}{% for u in users %}{% set ns.names = ns.names + [u.name | upper] %}{% endfor %}{{ ns.names | join(',') }}",
  if_empty_dict: '{% if {} %}t{% else %}f{% endif %}',
  with_names: "{% with x = a + 1, y = s | lower %}{{ x }} {{ y }}{% endwith %}{{ x | default('gone') }}",
  with_scope: '{% set z = 1 %}{% with %}{% set z = 2 %}{{ z }}{% endwith %}{{ z }}',
  with_outer_values: '{% with a = 5, b = a %}{{ a }}{{ b }}{% endwith %}',
  with_in_loop: '{% for u in users %}{% with n = u.name | upper -%}  {{ n }};{% endwith %}{% endfor %}',
  set_unpack: '{% set p, q = lst[:2] %}{{ q }}-{{ p }}',
  set_unpack_str: "{% set p, q = 'xy' %}{{ q }}{{ p }}",
  set_unpack_pairs: '{% for k, v in d.items() | list %}{% set kk, vv = [k, v] %}{{ kk }}{% endfor %}',
};

const ansibleOk = (() => {
  try {
    execFileSync('ansible-playbook', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!ansibleOk)('templating matches ansible-core', () => {
  let dir: string;
  let theirs: Record<string, unknown> = {};
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'drover-tpl-oracle-'));
    writeFileSync(join(dir, 'vars.yml'), stringify({ ...vars, out: cases }));
    writeFileSync(
      join(dir, 'pb.yml'),
      stringify([
        {
          hosts: 'localhost',
          connection: 'local',
          gather_facts: false,
          vars_files: ['vars.yml'],
          tasks: [{ debug: { var: 'out' } }],
        },
      ]),
    );
    const stdout = execFileSync('ansible-playbook', ['-i', 'localhost,', 'pb.yml'], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        ANSIBLE_STDOUT_CALLBACK: 'json',
        ANSIBLE_LOCALHOST_WARNING: 'False',
        ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
      },
    });
    const parsed = JSON.parse(stdout) as {
      plays: { tasks: { hosts: Record<string, { out: Record<string, unknown> }> }[] }[];
    };
    theirs = parsed.plays[0]!.tasks[0]!.hosts.localhost!.out;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ran every case', () => {
    expect(Object.keys(theirs).sort()).toEqual(Object.keys(cases).sort());
    expect(Object.keys(cases).length).toBeGreaterThanOrEqual(60);
  });

  const templar = new Templar({ cwd: '/tmp' });
  for (const [name, src] of Object.entries(cases)) {
    it(`${name}: ${src}`, () => {
      const ours = templar.template(src, vars);
      expect(JSON.parse(JSON.stringify(ours))).toEqual(theirs[name]);
    });
  }
});
