import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { joinArgs, parseKv, splitArgs } from '../../../src/playbook/split-args.js';

// Tricky inputs; the expected values come from ansible-core itself (one python batch).
const CASES = [
  'a=b c=d',
  'a=b c="foo bar"',
  'a=\'b c\' d="e f" g',
  'echo hello world',
  'echo "hello   world" creates=/tmp/x',
  'chdir=/tmp ls -l removes=/etc/passwd',
  'msg="{{ foo | default(\'a b\') }}"',
  'msg={{ a }} {{ b }}',
  '{{ cmd }} arg1 arg2',
  'a="b\\"c" d=e',
  'x=1\ny=2',
  'echo a \\\nb',
  'a=b=c',
  'key\\=val other=1',
  'dest=/tmp/a src="x y"   mode=0644',
  'a="x\\ny"',
  "a='it''s'",
  'cmd="ls" executable=/bin/bash stdin="line one" warn=no',
  '{% if x %}a b{% endif %} c=d',
  'a={# c d #} e=f',
  '  leading space=1',
  'trailing=1  ',
  'path=C:\\\\temp\\\\x',
  'msg="tab\\there" other=\\x41',
  'echo \'a b\' "c d" e=f',
  'mode=u+rw,g-w name="{{ item.name }}"',
  'a="unclosed',
  '{{ unbalanced',
  "b='unclosed single",
];

interface Oracle {
  split?: string[];
  kv?: Record<string, string>;
  raw?: Record<string, string>;
  error?: string;
}

const PY = '/usr/bin/python3';
const haveAnsible =
  existsSync(PY) &&
  (() => {
    try {
      execFileSync(PY, ['-c', 'import ansible.parsing.splitter'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

function oracle(cases: string[]): Oracle[] {
  const script = `
import json, sys
from ansible.parsing.splitter import parse_kv, split_args
out = []
for s in json.load(sys.stdin):
    try:
        out.append({"split": split_args(s), "kv": parse_kv(s), "raw": parse_kv(s, check_raw=True)})
    except Exception as e:
        out.append({"error": type(e).__name__})
print(json.dumps(out))
`;
  return JSON.parse(
    execFileSync(PY, ['-c', script], { input: JSON.stringify(cases) }).toString(),
  ) as Oracle[];
}

describe.skipIf(!haveAnsible)('split_args / parse_kv against ansible-core', () => {
  const expected = haveAnsible ? oracle(CASES) : [];
  CASES.forEach((input, i) => {
    it(JSON.stringify(input), () => {
      const want = expected[i]!;
      if (want.error) {
        expect(() => splitArgs(input)).toThrow();
        expect(() => parseKv(input)).toThrow();
        return;
      }
      expect(splitArgs(input)).toEqual(want.split);
      expect(parseKv(input)).toEqual(want.kv);
      expect(parseKv(input, true)).toEqual(want.raw);
    });
  });
});

describe('split_args basics', () => {
  it('keeps quoted spaces and Jinja blocks together', () => {
    expect(splitArgs('a="b c" d={{ e f }}')).toEqual(['a="b c"', 'd={{ e f }}']);
  });
  it('join_args restores the original spacing', () => {
    expect(joinArgs(splitArgs('echo   a\nb'))).toBe('echo   a\nb');
  });
  it('free-form keeps unknown words in _raw_params and pulls out creates/chdir', () => {
    expect(parseKv('chdir=/tmp echo x=1 creates=/a', true)).toEqual({
      chdir: '/tmp',
      creates: '/a',
      _raw_params: 'echo x=1',
    });
  });
  it('reports an unclosed quote', () => {
    expect(() => parseKv('msg="oops')).toThrow(/unbalanced jinja2 block or quotes/);
  });
});
