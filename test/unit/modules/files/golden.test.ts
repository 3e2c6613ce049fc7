/**
 * Golden planner tests: arguments + context → the exact script (fixture files under
 * test/fixtures/modules/files/, reviewed in diffs), and canned answers → the TaskResult.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { validateArgs } from '../../../../modules/args.js';
import { filesModules } from '../../../../modules/files/index.js';
import type { AnyModule, Step, TaskResult } from '../../../../modules/types.js';
import { type HarnessOptions, makeContext } from '../harness.js';

function mod(name: string): AnyModule {
  const m = filesModules.find((x) => x.names.includes(name));
  if (!m) throw new Error(`no module ${name}`);
  return m;
}

async function plan(
  name: string,
  raw: Record<string, unknown>,
  opts: HarnessOptions = {},
): Promise<Step | TaskResult> {
  const m = mod(name);
  const v = validateArgs(name, m.args, raw);
  if (v.errors.length > 0) throw new Error(v.errors.join('; '));
  const ctx = { ...makeContext(opts), remoteTmp: '/tmp/drover-remote' };
  return m.plan(v.args, ctx);
}

function isStep(x: Step | TaskResult): x is Step {
  return typeof (x as Step).script === 'string';
}

const golden: [string, string, Record<string, unknown>, HarnessOptions?][] = [
  [
    'copy-content',
    'copy',
    { content: "a'b $x\n", dest: '/etc/motd', mode: '0644', owner: 'root', backup: true },
  ],
  ['copy-content-check', 'copy', { content: 'x', dest: '/etc/motd' }, { check: true }],
  ['copy-validate', 'copy', { content: 'x', dest: '/etc/sudoers.d/a', validate: 'visudo -cf %s' }],
  ['copy-remote-src-tree', 'copy', { src: '/opt/a/', dest: '/opt/b', remote_src: true }],
  [
    'file-directory',
    'file',
    { path: '/srv/app data', state: 'directory', mode: 'u=rwx,g=rx,o=', recurse: true },
  ],
  ['file-link', 'file', { path: '-weird', src: '/etc/hosts', state: 'link' }],
  ['stat', 'stat', { path: '/etc/passwd', checksum_algorithm: 'sha256' }],
  ['slurp', 'ansible.builtin.slurp', { src: '/etc/hostname' }],
  ['lineinfile-read', 'lineinfile', { path: '/etc/ssh/sshd_config', regexp: '^Port', line: 'Port 2222' }],
  ['tempfile', 'tempfile', { state: 'directory', suffix: '.build' }],
  ['find', 'find', { paths: ['/var/log', '/tmp/$x'], patterns: '*.log', recurse: true, depth: 2 }],
  [
    'unarchive-remote',
    'unarchive',
    { src: '/tmp/a.tar.gz', dest: '/opt', remote_src: true, extra_opts: ['--strip-components=1'] },
  ],
  ['ini-read', 'community.general.ini_file', { path: '/etc/app.ini', section: 's', option: 'o', value: 'v' }],
];

describe('golden scripts', () => {
  for (const [file, name, raw, opts] of golden) {
    it(`${file}`, async () => {
      const step = await plan(name, raw, opts);
      if (!isStep(step)) throw new Error(`expected a step, got ${JSON.stringify(step)}`);
      await expect(step.script).toMatchFileSnapshot(`../../../fixtures/modules/files/${file}.sh`);
    });
  }

  it('every module answers to its ansible.builtin / collection names', () => {
    const names = filesModules.flatMap((m) => m.names);
    for (const n of [
      'copy',
      'template',
      'file',
      'lineinfile',
      'blockinfile',
      'replace',
      'stat',
      'slurp',
      'fetch',
      'find',
      'assemble',
      'tempfile',
      'unarchive',
    ]) {
      expect(names).toContain(n);
      expect(names).toContain(`ansible.builtin.${n}`);
    }
    expect(names).toContain('community.general.ini_file');
  });
});

describe('canned answers', () => {
  it('copy: a successful write answer becomes Ansible return values', async () => {
    const step = await plan('copy', { content: 'hello\n', dest: '/etc/motd' }, { diff: true });
    if (!isStep(step)) throw new Error('expected a step');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const res = await step.parse({
      rc: 0,
      stderr: '',
      stdout: [
        `dest:b64=${b64('/etc/motd')}`,
        'noise that is not protocol',
        `before:b64=${b64('old\n')}`,
        'content_changed=1',
        'changed=1',
        'dest.type=file',
        'dest.stat=644 0 0 6 1700000000 1700000000 1 42',
        `dest.owner:b64=${b64('root')}`,
        `dest.group:b64=${b64('root')}`,
      ].join('\n'),
    });
    expect(res).toEqual({
      changed: true,
      dest: '/etc/motd',
      state: 'file',
      uid: 0,
      gid: 0,
      owner: 'root',
      group: 'root',
      mode: '0644',
      size: 6,
      src: 'dynamically generated',
      checksum: 'f572d396fae9206628714fb2ce00f72e94f2258f',
      md5sum: 'b1946ac92492d2347c6235b4d2611184',
      diff: {
        before: 'old\n',
        after: 'hello\n',
        before_header: '/etc/motd',
        after_header: 'dynamically generated',
      },
    });
  });

  it('a failure answer keeps msg and stderr, never a bare MODULE FAILURE', async () => {
    const step = await plan('copy', { content: 'x', dest: '/etc/motd' });
    if (!isStep(step)) throw new Error('expected a step');
    const res = await step.parse({
      rc: 1,
      stdout: `msg:b64=${Buffer.from('Destination /etc not writable').toString('base64')}\nfailed=1\n`,
      stderr: 'mktemp: Permission denied\n',
    });
    expect(res).toEqual({
      failed: true,
      rc: 1,
      msg: 'Destination /etc not writable',
      stderr: 'mktemp: Permission denied',
    });
    const crash = await step.parse({ rc: 127, stdout: '', stderr: 'sh: 1: base64: not found' });
    expect(crash).toMatchObject({ failed: true, msg: 'copy: sh: 1: base64: not found' });
  });

  it('stat: raw stat fields become the stat dictionary', async () => {
    const step = await plan('stat', { path: '/usr/bin/passwd' });
    if (!isStep(step)) throw new Error('expected a step');
    const res = (await step.parse({
      rc: 0,
      stderr: '',
      stdout: `exists=1\nraw=89ed 0 0 59976 1 2 3 77 2049 1\npw_name:b64=${Buffer.from('root').toString('base64')}\nreadable=1\nchecksum=abc\n`,
    })) as TaskResult;
    expect(res.stat).toMatchObject({
      mode: '4755',
      isuid: true,
      isreg: true,
      size: 59976,
      atime: 1,
      mtime: 2,
      ctime: 3,
      inode: 77,
      pw_name: 'root',
      readable: true,
      writeable: false,
      checksum: 'abc',
    });
  });

  it('lineinfile: step 1 answer decides step 2 (write only if changed)', async () => {
    const step = await plan('lineinfile', { path: '/etc/x', line: 'a' });
    if (!isStep(step)) throw new Error('expected a step');
    const same = await step.parse({
      rc: 0,
      stderr: '',
      stdout: `type=file\nsum=x\ncontent:b64=${Buffer.from('a\n').toString('base64')}\n`,
    });
    expect(same).toEqual({ changed: false, msg: '', backup: '' });
    const next = await step.parse({
      rc: 0,
      stderr: '',
      stdout: `type=file\nsum=x\ncontent:b64=${Buffer.from('b\n').toString('base64')}\n`,
    });
    expect(isStep(next as Step | TaskResult)).toBe(true);
    expect((next as Step).stdin).toEqual(Buffer.from('b\na\n'));
    // the guard is the sha1 of the content read back (computed on the controller)
    expect((next as Step).script).toContain(`guard_sum=${createHash('sha1').update('b\n').digest('hex')}`);
  });
});
