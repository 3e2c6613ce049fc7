/**
 * drover's file modules against ansible-core: every case runs twice under
 * `ansible-playbook -c local` (one playbook for all cases, JSON callback) and twice under
 * drover's planner + local sh, each on its own copy of the same starting file. The
 * resulting bytes and both `changed` values must agree.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assembleModule } from '../../modules/files/assemble.js';
import { blockinfileModule } from '../../modules/files/blockinfile.js';
import { copyModule } from '../../modules/files/copy.js';
import { fileModule } from '../../modules/files/file.js';
import { iniFileModule } from '../../modules/files/ini_file.js';
import { lineinfileModule } from '../../modules/files/lineinfile.js';
import { replaceModule } from '../../modules/files/replace.js';
import { templateModule } from '../../modules/files/template.js';
import type { AnyModule } from '../../modules/types.js';
import { controllerFiles } from '../../src/runner/controller-files.js';
import { Templar } from '../../src/template/index.js';
import { runModule, scratch } from '../unit/modules/harness.js';

interface Case {
  name: string;
  module: AnyModule;
  /** Args; the string '@' stands for the case's file path. */
  args: Record<string, unknown>;
  /** Starting content; undefined = file absent. */
  initial?: string;
  /** Extra starting state (dirs, links, modes) built the same way for both sides. */
  setup?: (path: string) => void;
  /** Controller-side src files (copy src / assemble remote_src=no): real files on this machine. */
  controller?: boolean;
  /** Task vars (template cases). */
  vars?: Record<string, unknown>;
  /** Skip the check+diff comparison (modules whose check mode Ansible does not support). */
  noCheck?: boolean;
}

const conf = '# comment\nListen 80\nServerName old\n#Port 22\nPort 2222\nlast line\n';
function tree(root: string) {
  mkdirSync(`${root}/conf/sub dir`, { recursive: true });
  writeFileSync(`${root}/conf/a.conf`, 'a=1\n');
  writeFileSync(`${root}/conf/sub dir/b $x.conf`, 'b\n');
  writeFileSync(`${root}/conf/run.sh`, '#!/bin/sh\n');
  chmodSync(`${root}/conf/run.sh`, 0o750);
}

function renderWith(vars: Record<string, unknown> | undefined) {
  return async (source: string, opts?: { path?: string }) =>
    new Templar().renderTemplateFile(source, vars ?? {}, { path: opts?.path ?? '' });
}

const require_readdir = (d: string): string[] => (existsSync(d) ? readdirSync(d).sort() : []);
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
  { name: 'file mode octal string', module: fileModule, args: { path: '@', mode: '0600' }, initial: conf },
  { name: 'file dir nested', module: fileModule, args: { path: '@/a/b', state: 'directory', mode: '0750' } },
  { name: 'file dir over file', module: fileModule, args: { path: '@', state: 'directory' }, initial: conf },
  { name: 'file link new', module: fileModule, args: { path: '@', src: '/etc/hostname', state: 'link' } },
  {
    name: 'file link over file no force',
    module: fileModule,
    args: { path: '@', src: '/etc/hostname', state: 'link' },
    initial: conf,
  },
  {
    name: 'file link over file force',
    module: fileModule,
    args: { path: '@', src: '/etc/hostname', state: 'link', force: true },
    initial: conf,
  },
  {
    name: 'file link missing src',
    module: fileModule,
    args: { path: '@', src: '/nonexistent/x', state: 'link' },
  },
  {
    name: 'file link repoint',
    module: fileModule,
    args: { path: '@', src: '/etc/hosts', state: 'link' },
    setup: (p) => symlinkSync('/etc/hostname', p),
  },
  {
    name: 'file absent on link',
    module: fileModule,
    args: { path: '@', state: 'absent' },
    setup: (p) => symlinkSync('/etc/hostname', p),
  },
  { name: 'file state=file missing', module: fileModule, args: { path: '@', state: 'file' } },
  {
    name: 'file empty dir to link force',
    module: fileModule,
    args: { path: '@', src: '/etc', state: 'link', force: true },
    setup: (p) => mkdirSync(p),
  },
  {
    name: 'file touch mode',
    module: fileModule,
    args: { path: '@', state: 'touch', mode: '0640', modification_time: 'preserve', access_time: 'preserve' },
    initial: 'x',
  },
  // copy: dest directory rules
  {
    name: 'copy remote_src into dir',
    module: copyModule,
    args: { src: '/etc/hostname', dest: '@/', remote_src: true },
  },
  {
    name: 'copy remote_src into existing dir',
    module: copyModule,
    args: { src: '/etc/hostname', dest: '@', remote_src: true },
    setup: (p) => mkdirSync(p),
  },
  {
    name: 'copy content mode',
    module: copyModule,
    args: { dest: '@', content: 'm\n', mode: 'u=rw,g=,o=' },
    initial: 'm\n',
    setup: (p) => chmodSync(p, 0o644),
  },
  {
    name: 'copy content backup',
    module: copyModule,
    args: { dest: '@', content: 'new\n', backup: true },
    initial: 'old\n',
  },
  // copy from the controller: files and trees (the controller is this machine for both sides)
  {
    name: 'copy tree no slash',
    module: copyModule,
    controller: true,
    args: { src: '@.src/conf', dest: '@' },
    setup: (p) => tree(`${p}.src`),
  },
  {
    name: 'copy tree contents (trailing slash) into new dir',
    module: copyModule,
    controller: true,
    args: { src: '@.src/conf/', dest: '@/' },
    setup: (p) => tree(`${p}.src`),
  },
  {
    name: 'copy tree with mode and directory_mode',
    module: copyModule,
    controller: true,
    args: { src: '@.src/conf', dest: '@', mode: '0600', directory_mode: '0700' },
    setup: (p) => {
      tree(`${p}.src`);
      mkdirSync(p);
    },
  },
  {
    name: 'copy file into trailing-slash dest',
    module: copyModule,
    controller: true,
    args: { src: '@.src/conf/a.conf', dest: '@/sub/' },
    setup: (p) => tree(`${p}.src`),
  },
  {
    name: 'copy file mode preserve',
    module: copyModule,
    controller: true,
    args: { src: '@.src/conf/run.sh', dest: '@', mode: 'preserve' },
    setup: (p) => tree(`${p}.src`),
  },
  // template: the real template engine (src/template) on the drover side
  {
    name: 'template loop and trim_blocks',
    module: templateModule,
    controller: true,
    args: { src: '@.j2', dest: '@', mode: '0640' },
    vars: { port: 8080, users: ['ann', 'bob'], motd: "it's $HOME" },
    setup: (p) =>
      writeFileSync(
        `${p}.j2`,
        '# {{ ansible_managed | default("managed") }}\nport={{ port }}\n{% for u in users %}\nuser {{ u | upper }}\n{% endfor %}\nmotd={{ motd }}\n',
      ),
  },
  {
    name: 'template into existing dir, no trailing newline',
    module: templateModule,
    controller: true,
    args: { src: '@.j2', dest: '@' },
    vars: { x: 'y' },
    setup: (p) => {
      writeFileSync(`${p}.j2`, '{% if x == "y" %}yes{% else %}no{% endif %}');
      mkdirSync(p);
    },
  },
  {
    name: 'template unchanged',
    module: templateModule,
    controller: true,
    args: { src: '@.j2', dest: '@' },
    vars: { v: 1 },
    initial: 'v=1\n',
    setup: (p) => writeFileSync(`${p}.j2`, 'v={{ v }}\n'),
  },
  // assemble
  {
    name: 'assemble fragments',
    module: assembleModule,
    noCheck: true,
    args: { src: '@.d', dest: '@', delimiter: '#--' },
    setup: (p) => {
      mkdirSync(`${p}.d`);
      writeFileSync(`${p}.d/b`, 'two');
      writeFileSync(`${p}.d/a`, 'one\n');
      writeFileSync(`${p}.d/c`, 'three\n');
    },
  },
  // ini_file
  {
    name: 'ini add to existing section',
    module: iniFileModule,
    args: { path: '@', section: 'main', option: 'b', value: '2' },
    initial: '[main]\na = 1\n\n[other]\nx = y\n',
  },
  {
    name: 'ini change value',
    module: iniFileModule,
    args: { path: '@', section: 'main', option: 'a', value: '9' },
    initial: '[main]\na = 1\n',
  },
  {
    name: 'ini commented option',
    module: iniFileModule,
    args: { path: '@', section: 'main', option: 'a', value: '3' },
    initial: '[main]\n# a = 1\n',
  },
  {
    name: 'ini new section',
    module: iniFileModule,
    args: { path: '@', section: 'new', option: 'k', value: 'v', no_extra_spaces: true },
    initial: '[main]\na = 1',
  },
  {
    name: 'ini no section',
    module: iniFileModule,
    args: { path: '@', option: 'top', value: 't' },
    initial: '[main]\na = 1\n',
  },
  {
    name: 'ini remove option',
    module: iniFileModule,
    args: { path: '@', section: 'main', option: 'a', state: 'absent' },
    initial: '[main]\na = 1\nb = 2\n',
  },
  {
    name: 'ini remove section',
    module: iniFileModule,
    args: { path: '@', section: 'other', state: 'absent' },
    initial: '[main]\na = 1\n[other]\nx = y\n',
  },
  {
    name: 'ini allow_no_value',
    module: iniFileModule,
    args: { path: '@', section: 'mysqld', option: 'skip-name-resolve', allow_no_value: true },
    initial: '[mysqld]\nport = 3306\n',
  },
  {
    name: 'ini values list',
    module: iniFileModule,
    args: { path: '@', section: 's', option: 'o', values: ['1', '2'] },
    initial: '[s]\no = 1\no = 3\n',
  },
  {
    name: 'ini create new file',
    module: iniFileModule,
    args: { path: '@', section: 's', option: 'o', value: 'v' },
  },
  {
    name: 'ini crlf',
    module: iniFileModule,
    args: { path: '@', section: 's', option: 'o', value: 'v' },
    initial: '[s]\r\no = v\r\n',
  },
];

// Generated values with shell and regex metacharacters: both tools must produce the same bytes.
const FUZZ = [
  ' ',
  "'",
  '"',
  '$',
  '`',
  '\\',
  '%',
  '-',
  '*',
  '#',
  ';',
  '=',
  '[',
  ']',
  '{mark}',
  'é',
  '€',
  '🙂',
  'a',
  'Z',
  '0',
  '\t',
];
function fuzzRng(seed: number) {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}
const fr = fuzzRng(424242);
const fuzzText = (n: number) =>
  Array.from({ length: n }, () => FUZZ[Math.floor(fr() * FUZZ.length)]).join('');
for (let k = 0; k < 6; k++) {
  const line = fuzzText(3 + Math.floor(fr() * 10));
  const other = fuzzText(5);
  cases.push(
    {
      name: `fuzz ${k} lineinfile line`,
      module: lineinfileModule,
      args: { path: '@', line },
      initial: `${other}\nx\n`,
    },
    {
      name: `fuzz ${k} lineinfile search_string`,
      module: lineinfileModule,
      args: { path: '@', search_string: other, line },
      initial: `a\n${other}\nb\n`,
    },
    {
      name: `fuzz ${k} blockinfile`,
      module: blockinfileModule,
      args: { path: '@', block: `${line}\n${other}` },
      initial: 'keep\n',
    },
    {
      name: `fuzz ${k} ini value`,
      module: iniFileModule,
      args: { path: '@', section: 'sec', option: 'opt', value: line.trim() || 'v' },
      initial: '[sec]\nopt = old\n',
    },
    { name: `fuzz ${k} copy content`, module: copyModule, args: { dest: '@', content: `${line}\n${other}` } },
  );
}

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
  return Object.fromEntries(
    Object.entries(args).map(([k, v]) => [
      k,
      typeof v === 'string' && v.startsWith('@') ? path + v.slice(1) : v,
    ]),
  );
}

function fqcn(m: AnyModule): string {
  return m.names.find((n) => n.includes('.')) ?? `ansible.builtin.${m.names[0]}`;
}

function setup(dir: string) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cases.forEach((c, i) => {
    if (c.initial !== undefined) writeFileSync(join(dir, `f${i}`), c.initial);
    c.setup?.(join(dir, `f${i}`));
  });
}

/** What a path holds: content and mode for files, mode for dirs, target for links. */
function read(path: string): string | undefined {
  if (!existsSync(path) && !isLink(path)) return undefined;
  const st = lstatSync(path);
  const mode = (st.mode & 0o7777).toString(8);
  if (st.isSymbolicLink()) return `link -> ${readlinkSync(path)}`;
  if (st.isDirectory()) return `dir ${mode}`;
  return `file ${mode} ${readFileSync(path, 'utf8')}`;
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Everything a case can touch: the path, its sub-paths and its siblings `path*` (backups, .d dirs). */
function readAll(dir: string, name: string): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  const walk = (rel: string) => {
    const v = read(join(dir, rel));
    if (v === undefined) return;
    // backup names carry a pid and a timestamp: compare that one exists, not its name
    out[/~$/.test(rel) ? `${name}.BACKUP~` : rel] = v;
    if (v.startsWith('dir ')) for (const e of require_readdir(join(dir, rel))) walk(`${rel}/${e}`);
  };
  for (const e of require_readdir(dir))
    if (e === name || e.startsWith(`${name}.`) || e.startsWith(`${name}/`)) walk(e);
  return out;
}

interface Outcome {
  changed: boolean[];
  failed: boolean[];
  content: Record<string, string | undefined>;
}

interface CheckOutcome {
  changed: boolean;
  failed: boolean;
  diff: { before?: unknown; after?: unknown } | undefined;
  untouched: boolean;
}

/** Content diffs only (Ansible adds an attributes diff with no before/after text). */
function contentDiff(d: unknown): { before?: unknown; after?: unknown } | undefined {
  const list = Array.isArray(d) ? d : d ? [d] : [];
  for (const x of list as { before?: unknown; after?: unknown }[]) {
    if (typeof x.before === 'string' || typeof x.after === 'string')
      return { before: x.before, after: x.after };
  }
  return undefined;
}

type AnsibleJson = {
  plays: { tasks: { hosts: { localhost: { changed?: boolean; failed?: boolean; diff?: unknown } } }[] }[];
};

function playbook(
  dir: string,
  file: string,
  repeat: number,
  extra: string[],
): AnsibleJson['plays'][0]['tasks'] {
  const tasks = cases.flatMap((c, i) => {
    const task = {
      name: `${i}`,
      [fqcn(c.module)]: fill(c.args, join(dir, `f${i}`)),
      ignore_errors: true,
      ...(c.vars ? { vars: c.vars } : {}),
    };
    return Array.from({ length: repeat }, () => task);
  });
  writeFileSync(
    file,
    JSON.stringify([{ hosts: 'localhost', connection: 'local', gather_facts: false, tasks }]),
  );
  const out = runAnsible(['-i', 'localhost,', file, ...extra], {
    env: {
      ...process.env,
      ANSIBLE_STDOUT_CALLBACK: 'json',
      ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
      ANSIBLE_LOCALHOST_WARNING: 'False',
      ANSIBLE_NOCOLOR: '1',
    },
  });
  return (JSON.parse(out.slice(out.indexOf('{'))) as AnsibleJson).plays[0]!.tasks;
}

describe.skipIf(!ansibleAvailable())('file modules vs ansible-core', () => {
  const ansible: Outcome[] = [];
  const ansibleCheck: CheckOutcome[] = [];
  const s = scratch();
  const initialState: Record<string, string | undefined>[] = [];

  beforeAll(() => {
    const dir = join(s.dir, 'ansible');
    setup(dir);
    const results = playbook(dir, join(s.dir, 'play.yml'), 2, []);
    cases.forEach((_c, i) => {
      const r = [results[2 * i]!.hosts.localhost, results[2 * i + 1]!.hosts.localhost];
      ansible.push({
        changed: r.map((x) => x.changed === true),
        failed: r.map((x) => x.failed === true),
        content: readAll(dir, `f${i}`),
      });
    });
    const cdir = join(s.dir, 'ansible-check');
    setup(cdir);
    for (let i = 0; i < cases.length; i++) initialState.push(readAll(cdir, `f${i}`));
    const checked = playbook(cdir, join(s.dir, 'check.yml'), 1, ['--check', '--diff']);
    cases.forEach((_c, i) => {
      const r = checked[i]!.hosts.localhost;
      ansibleCheck.push({
        changed: r.changed === true,
        failed: r.failed === true,
        diff: contentDiff(r.diff),
        untouched: JSON.stringify(readAll(cdir, `f${i}`)) === JSON.stringify(initialState[i]),
      });
    });
  }, 900_000);

  cases.forEach((c, i) => {
    it(`${c.name}: same files and changed as ansible, twice`, async () => {
      const dir = join(s.dir, 'drover');
      if (!existsSync(dir)) setup(dir);
      const path = join(dir, `f${i}`);
      const opts = c.controller ? { files: controllerFiles([]), render: renderWith(c.vars) } : {};
      const r1 = await runModule(c.module, fill(c.args, path), opts);
      const r2 = await runModule(c.module, fill(c.args, path), opts);
      const mine: Outcome = {
        changed: [r1.result.changed === true, r2.result.changed === true],
        failed: [r1.result.failed === true, r2.result.failed === true],
        content: readAll(dir, `f${i}`),
      };
      expect(mine).toEqual(ansible[i]);
    });

    it.skipIf(c.noCheck === true)(
      `${c.name}: same check-mode changed and diff as ansible, nothing written`,
      async () => {
        const dir = join(s.dir, 'drover-check');
        if (!existsSync(dir)) setup(dir);
        const path = join(dir, `f${i}`);
        const r = await runModule(c.module, fill(c.args, path), {
          check: true,
          diff: true,
          ...(c.controller ? { files: controllerFiles([]), render: renderWith(c.vars) } : {}),
        });
        const mine: CheckOutcome = {
          changed: r.result.changed === true,
          failed: r.result.failed === true,
          diff: contentDiff(r.result.diff),
          untouched: JSON.stringify(readAll(dir, `f${i}`)) === JSON.stringify(initialState[i]),
        };
        const theirs = ansibleCheck[i]!;
        // file/copy/assemble diffs differ in shape (dicts, headers): compare text diffs only where Ansible gives text
        if (typeof theirs.diff?.before !== 'string') {
          mine.diff = undefined;
          theirs.diff = undefined;
        }
        expect(mine).toEqual(theirs);
      },
    );
  });
});
