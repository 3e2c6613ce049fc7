import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileGlob, fnmatch } from '../../src/util/fnmatch.js';

const NAMES = [
  'a',
  'abc',
  'a.b',
  '.hidden',
  'x[1]',
  'x1',
  'x2',
  'a*b',
  'a?b',
  '',
  'A',
  'ab/c',
  'd!e',
  'x]',
  '^x',
  'a\nb',
  'é',
];
const PATTERNS = [
  '*',
  'a*',
  '*b',
  'a?b',
  '?',
  '[ax]*',
  '[!a]*',
  '[a-c]bc',
  'x[12]',
  'x[!1]',
  'x[',
  'x[1',
  '[]]',
  '[!]]*',
  'x]',
  '[^x]*',
  '*.b',
  'a\\*b',
  '**',
  'A',
  '[]',
  '[!]',
  'd!e',
  '*/c',
  'a*b*',
  '[*]*',
];

describe('fnmatch matches as Python fnmatch.fnmatchcase', () => {
  it('every name against every pattern', () => {
    const py = execFileSync(
      'python3',
      [
        '-c',
        'import sys, json, fnmatch\n' +
          'n, p = json.load(sys.stdin)\n' +
          'print(json.dumps([[fnmatch.fnmatchcase(a, b) for a in n] for b in p]))',
      ],
      { input: JSON.stringify([NAMES, PATTERNS]), encoding: 'utf8' },
    );
    const want = JSON.parse(py) as boolean[][];
    const got = PATTERNS.map((p) => NAMES.map((n) => fnmatch(n, p)));
    for (const [i, p] of PATTERNS.entries()) {
      expect({ pattern: p, matches: got[i] }).toEqual({ pattern: p, matches: want[i] });
    }
  });

  it('fileGlob lists what Python glob.glob lists (files only, hidden only for a dot pattern)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-glob-'));
    for (const f of ['a.txt', 'b.txt', '.c.txt', 'd.conf', 'x[1].txt']) writeFileSync(join(dir, f), '');
    mkdirSync(join(dir, 'sub.txt'));
    for (const pat of ['*.txt', '.*', '?.txt', '[ab].txt', '*', 'x[[]1].txt', 'none*']) {
      const py = execFileSync(
        'python3',
        [
          '-c',
          'import sys, glob, os, json\nprint(json.dumps(sorted(p for p in glob.glob(sys.argv[1]) if os.path.isfile(p))))',
          join(dir, pat),
        ],
        { encoding: 'utf8' },
      );
      expect({ pat, files: fileGlob(join(dir, pat)) }).toEqual({ pat, files: JSON.parse(py) as string[] });
    }
  });
});
