/**
 * drover's file modules against ansible-core: every case runs twice under
 * `ansible-playbook -c local` (one playbook for all cases, JSON callback) and twice under
 * drover's planner + local sh, each on its own copy of the same starting file. The
 * resulting bytes and both `changed` values must agree.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { blockinfileModule } from '../../modules/files/blockinfile.js';
import { copyModule } from '../../modules/files/copy.js';
import { fileModule } from '../../modules/files/file.js';
import { lineinfileModule } from '../../modules/files/lineinfile.js';
import { replaceModule } from '../../modules/files/replace.js';
import type { AnyModule } from '../../modules/types.js';
import { runModule, scratch } from '../unit/modules/harness.js';

interface Case {
  name: string;
  module: AnyModule;
  /** Args; the string '@' stands for the case's file path. */
  args: Record<string, unknown>;
  /** Starting content; undefined = file absent. */
  initial?: string;
}

const conf = '# comment\nListen 80\nServerName old\n#Port 22\nPort 2222\nlast line\n';
const noEol = 'alpha\nbeta\ngamma';

const cases: Case[] = [
  // lineinfile
  {
    name: 'li regexp replace',
    module: lineinfileModule,
    args: { path: '@', regexp: '^Listen ', line: 'Listen 8080' },
    initial: conf,
  },
  {
    name: 'li regexp no match -> EOF',
    module: lineinfileModule,
    args: { path: '@', regexp: '^Nope', line: 'Nope=1' },
    initial: conf,
  },
  {
    name: 'li exact line present',
    module: lineinfileModule,
    args: { path: '@', line: 'ServerName old' },
    initial: conf,
  },
  {
    name: 'li insertafter regex',
    module: lineinfileModule,
    args: { path: '@', line: 'Added', insertafter: '^Listen' },
    initial: conf,
  },
  {
    name: 'li insertafter last match',
    module: lineinfileModule,
    args: { path: '@', line: 'X', insertafter: '^Port|^#Port' },
    initial: conf,
  },
  {
    name: 'li insertafter firstmatch',
    module: lineinfileModule,
    args: { path: '@', line: 'X', insertafter: 'Port', firstmatch: true },
    initial: conf,
  },
  {
    name: 'li insertbefore',
    module: lineinfileModule,
    args: { path: '@', line: 'Before', insertbefore: '^ServerName' },
    initial: conf,
  },
  {
    name: 'li insertbefore BOF',
    module: lineinfileModule,
    args: { path: '@', line: 'Top', insertbefore: 'BOF' },
    initial: conf,
  },
  {
    name: 'li insertafter BOF',
    module: lineinfileModule,
    args: { path: '@', line: 'Top2', insertafter: 'BOF' },
    initial: conf,
  },
  {
    name: 'li insertafter EOF noeol',
    module: lineinfileModule,
    args: { path: '@', line: 'delta' },
    initial: noEol,
  },
  {
    name: 'li insertafter regex at end noeol',
    module: lineinfileModule,
    args: { path: '@', line: 'delta', insertafter: '^gamma' },
    initial: noEol,
  },
  {
    name: 'li insertafter nomatch',
    module: lineinfileModule,
    args: { path: '@', line: 'Z', insertafter: '^nothing' },
    initial: conf,
  },
  {
    name: 'li backrefs',
    module: lineinfileModule,
    args: { path: '@', regexp: '^(Port) (\\d+)$', line: '\\1 \\g<2>0', backrefs: true },
    initial: conf,
  },
  {
    name: 'li backrefs nomatch',
    module: lineinfileModule,
    args: { path: '@', regexp: '^(Nope)', line: '\\1', backrefs: true },
    initial: conf,
  },
  {
    name: 'li named group',
    module: lineinfileModule,
    args: { path: '@', regexp: '^(?P<k>ServerName) ', line: '\\g<k> new', backrefs: true },
    initial: conf,
  },
  {
    name: 'li search_string',
    module: lineinfileModule,
    args: { path: '@', search_string: 'Port 22', line: 'Port 23' },
    initial: conf,
  },
  {
    name: 'li absent regexp',
    module: lineinfileModule,
    args: { path: '@', regexp: 'Port', state: 'absent' },
    initial: conf,
  },
  {
    name: 'li absent line',
    module: lineinfileModule,
    args: { path: '@', line: 'last line', state: 'absent' },
    initial: conf,
  },
  { name: 'li create', module: lineinfileModule, args: { path: '@', line: 'new file', create: true } },
  {
    name: 'li crlf exact',
    module: lineinfileModule,
    args: { path: '@', line: 'b' },
    initial: 'a\r\nb\r\nc\r\n',
  },
  {
    name: 'li unicode',
    module: lineinfileModule,
    args: { path: '@', regexp: '^clé=', line: 'clé=välue €' },
    initial: 'clé=old\n',
  },
  // blockinfile
  { name: 'bi append', module: blockinfileModule, args: { path: '@', block: 'a=1\nb=2' }, initial: conf },
  {
    name: 'bi replace existing',
    module: blockinfileModule,
    args: { path: '@', block: 'new' },
    initial: `top\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\nbottom\n`,
  },
  {
    name: 'bi remove',
    module: blockinfileModule,
    args: { path: '@', state: 'absent' },
    initial: `top\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\nbottom\n`,
  },
  {
    name: 'bi insertbefore BOF custom marker',
    module: blockinfileModule,
    args: {
      path: '@',
      block: 'x',
      insertbefore: 'BOF',
      marker: '<!-- {mark} -->',
      marker_begin: 'start',
      marker_end: 'stop',
    },
    initial: conf,
  },
  {
    name: 'bi insertafter regex',
    module: blockinfileModule,
    args: { path: '@', block: 'y', insertafter: '^Listen' },
    initial: conf,
  },
  {
    name: 'bi insertbefore regex',
    module: blockinfileModule,
    args: { path: '@', block: 'y', insertbefore: '^Port' },
    initial: conf,
  },
  { name: 'bi noeol', module: blockinfileModule, args: { path: '@', block: 'z\n' }, initial: noEol },
  { name: 'bi create', module: blockinfileModule, args: { path: '@', block: 'fresh', create: true } },
  {
    name: 'bi empty block removes',
    module: blockinfileModule,
    args: { path: '@', block: '' },
    initial: `# BEGIN ANSIBLE MANAGED BLOCK\nq\n# END ANSIBLE MANAGED BLOCK\n`,
  },
  // replace
  {
    name: 're simple',
    module: replaceModule,
    args: { path: '@', regexp: 'old', replace: 'new' },
    initial: conf,
  },
  {
    name: 're groups multiline',
    module: replaceModule,
    args: { path: '@', regexp: '^(\\w+) (\\d+)$', replace: '\\2 \\1' },
    initial: conf,
  },
  {
    name: 're after before',
    module: replaceModule,
    args: { path: '@', regexp: 'Port', replace: 'PORT', after: 'ServerName', before: 'last' },
    initial: conf,
  },
  {
    name: 're no match',
    module: replaceModule,
    args: { path: '@', regexp: 'zzz', replace: 'y' },
    initial: conf,
  },
  {
    name: 're delete lines',
    module: replaceModule,
    args: { path: '@', regexp: '^#.*\\n', replace: '' },
    initial: conf,
  },
  {
    name: 're named + dollar',
    module: replaceModule,
    args: { path: '@', regexp: '(?P<w>Listen) 80$', replace: '\\g<w> $HOME `x`' },
    initial: conf,
  },
  // copy
  { name: 'copy content new', module: copyModule, args: { dest: '@', content: "x $y `z` 'q'\n" } },
  { name: 'copy content same', module: copyModule, args: { dest: '@', content: conf }, initial: conf },
  { name: 'copy content differs', module: copyModule, args: { dest: '@', content: 'other' }, initial: conf },
  {
    name: 'copy force no',
    module: copyModule,
    args: { dest: '@', content: 'other', force: false },
    initial: conf,
  },
  // file
  { name: 'file touch new', module: fileModule, args: { path: '@', state: 'touch' } },
  { name: 'file absent', module: fileModule, args: { path: '@', state: 'absent' }, initial: conf },
  { name: 'file absent missing', module: fileModule, args: { path: '@', state: 'absent' } },
  { name: 'file mode symbolic', module: fileModule, args: { path: '@', mode: 'u=rw,g=r,o=' }, initial: conf },
];

function ansibleAvailable(): boolean {
  try {
    execFileSync('ansible-playbook', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function runAnsible(argv: string[], opts: { env: NodeJS.ProcessEnv }): string {
  try {
    return execFileSync('ansible-playbook', argv, { ...opts, maxBuffer: 64 * 1024 * 1024 }).toString('utf8');
  } catch (e) {
    // a failing task still prints the JSON report; exit status 2 is expected then
    const stdout = (e as { stdout?: Buffer }).stdout;
    if (stdout && stdout.length > 0) return stdout.toString('utf8');
    throw e;
  }
}

function fill(args: Record<string, unknown>, path: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, v === '@' ? path : v]));
}

function setup(dir: string) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cases.forEach((c, i) => {
    if (c.initial !== undefined) writeFileSync(join(dir, `f${i}`), c.initial);
  });
}

function read(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

interface Outcome {
  changed: boolean[];
  failed: boolean[];
  content: string | undefined;
}

describe.skipIf(!ansibleAvailable())('file modules vs ansible-core', () => {
  const ansible: Outcome[] = [];
  const s = scratch();

  beforeAll(() => {
    const dir = join(s.dir, 'ansible');
    setup(dir);
    const tasks = cases.flatMap((c, i) => {
      const task = {
        name: `${i}`,
        [`ansible.builtin.${c.module.names[0]}`]: fill(c.args, join(dir, `f${i}`)),
        ignore_errors: true,
      };
      return [task, task];
    });
    const play = [{ hosts: 'localhost', connection: 'local', gather_facts: false, tasks }];
    writeFileSync(join(s.dir, 'play.yml'), JSON.stringify(play));
    const out = runAnsible(['-i', 'localhost,', join(s.dir, 'play.yml')], {
      env: {
        ...process.env,
        ANSIBLE_STDOUT_CALLBACK: 'json',
        ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
        ANSIBLE_LOCALHOST_WARNING: 'False',
        ANSIBLE_NOCOLOR: '1',
      },
    });
    const json = JSON.parse(out.slice(out.indexOf('{'))) as {
      plays: {
        tasks: { task: { name: string }; hosts: { localhost: { changed?: boolean; failed?: boolean } } }[];
      }[];
    };
    const results = json.plays[0]!.tasks;
    cases.forEach((_c, i) => {
      const r = [results[2 * i]!.hosts.localhost, results[2 * i + 1]!.hosts.localhost];
      ansible.push({
        changed: r.map((x) => x.changed === true),
        failed: r.map((x) => x.failed === true),
        content: read(join(dir, `f${i}`)),
      });
    });
  }, 180_000);

  cases.forEach((c, i) => {
    it(`${c.name}: same bytes and changed as ansible`, async () => {
      const dir = join(s.dir, 'drover');
      if (i === 0) setup(dir);
      if (!existsSync(dir)) setup(dir);
      const path = join(dir, `f${i}`);
      const r1 = await runModule(c.module, fill(c.args, path));
      const r2 = await runModule(c.module, fill(c.args, path));
      const mine: Outcome = {
        changed: [r1.result.changed === true, r2.result.changed === true],
        failed: [r1.result.failed === true, r2.result.failed === true],
        content: read(path),
      };
      expect(mine).toEqual(ansible[i]);
    });
  });
});
