import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ListOptions, listPlaybook, taskSelectedByTags } from '../../../src/playbook/list.js';
import { loadPlaybook } from '../../../src/playbook/load.js';

const GOOD = resolve('test/fixtures/playbooks/good');
const haveAnsible = existsSync('/usr/bin/ansible-playbook');

/** Play TAGS are a Python set joined by ',' (unordered): compare them sorted. */
function normalize(lines: string[]): string[] {
  return lines
    .map((l) =>
      l.replace(/\tTAGS: \[([^\]]*)\]$/, (_m, t: string) => `\tTAGS: [${t.split(/,\s*/).sort().join(',')}]`),
    )
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !l.startsWith('[WARNING]'));
}

function ansible(file: string, args: string[]): string[] {
  const out = execFileSync('/usr/bin/ansible-playbook', ['-i', 'localhost,', file, ...args], {
    cwd: GOOD,
    env: {
      ...process.env,
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_LOCALHOST_WARNING: 'False',
      ANSIBLE_ROLES_PATH: '/nonexistent',
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out.toString().split('\n');
}

function drover(file: string, opts: ListOptions): string[] {
  const pb = loadPlaybook(join(GOOD, file), { rolesPath: ['/nonexistent'] });
  return listPlaybook(pb, { ...opts, displayFile: file });
}

const RUNS: { file: string; args: string[]; opts: ListOptions }[] = [
  { file: 'site.yml', args: ['--list-tasks'], opts: { tasks: true } },
  { file: 'site.yml', args: ['--list-tags'], opts: { tags: true } },
  {
    file: 'site.yml',
    args: ['--list-tasks', '--tags', 'extra,web'],
    opts: { tasks: true, only: ['extra', 'web'] },
  },
  {
    file: 'site.yml',
    args: ['--list-tasks', '--skip-tags', 'app,blk'],
    opts: { tasks: true, skip: ['app', 'blk'] },
  },
  { file: 'site.yml', args: ['--list-tasks', '--tags', 'never'], opts: { tasks: true, only: ['never'] } },
  { file: 'site.yml', args: ['--list-tasks', '--tags', 'tagged'], opts: { tasks: true, only: ['tagged'] } },
  {
    file: 'site.yml',
    args: ['--list-tasks', '--list-tags', '--tags', 'untagged'],
    opts: { tasks: true, tags: true, only: ['untagged'] },
  },
  { file: 'forms.yml', args: ['--list-tasks'], opts: { tasks: true } },
  { file: 'nested-import.yml', args: ['--list-tasks'], opts: { tasks: true } },
  { file: 'roles-dup.yml', args: ['--list-tasks', '--list-tags'], opts: { tasks: true, tags: true } },
  { file: 'tags.yml', args: ['--list-tasks', '--list-tags'], opts: { tasks: true, tags: true } },
  {
    file: 'tags.yml',
    args: ['--list-tasks', '--tags', 'a', '--skip-tags', 'always'],
    opts: { tasks: true, only: ['a'], skip: ['always'] },
  },
  { file: 'tags.yml', args: ['--list-tasks', '--skip-tags', 'all'], opts: { tasks: true, skip: ['all'] } },
];

describe.concurrent.skipIf(!haveAnsible)('--list-tasks / --list-tags match ansible-playbook', () => {
  for (const r of RUNS) {
    it(`${r.file} ${r.args.join(' ')}`, () => {
      expect(normalize(drover(r.file, r.opts))).toEqual(normalize(ansible(r.file, r.args)));
    });
  }
});

describe('taskSelectedByTags', () => {
  const rows: [string[], { only?: string[]; skip?: string[] }, boolean][] = [
    [[], {}, true],
    [['never'], {}, false],
    [['never', 'x'], { only: ['x'] }, true],
    [['always'], { only: ['x'] }, true],
    [['always'], { skip: ['always'] }, false],
    [['always'], { skip: ['all'] }, true],
    [['always'], { skip: ['all', 'always'] }, false],
    [['a'], { only: ['b'] }, false],
    [['a'], { only: ['tagged'] }, true],
    [[], { only: ['tagged'] }, false],
    [[], { only: ['untagged'] }, true],
    [['a'], { only: ['untagged'] }, false],
    [['a'], { skip: ['tagged'] }, false],
    [[], { skip: ['tagged'] }, true],
    [['a', 'b'], { only: ['b'], skip: ['a'] }, false],
    [['never'], { only: ['all'] }, false],
  ];
  for (const [tags, sel, want] of rows) {
    it(`${JSON.stringify(tags)} ${JSON.stringify(sel)} -> ${want}`, () => {
      expect(taskSelectedByTags(tags, sel)).toBe(want);
    });
  }
});
