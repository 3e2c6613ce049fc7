/**
 * System modules against ansible-core 2.14 (the oracle) on files in scratch directories:
 * the same task sequence runs once through `ansible-playbook -c local` (one invocation for
 * every case) and once through drover's planners with the local sh; per task `changed`,
 * `failed` and the --diff before/after must agree, and so must the files at the end.
 * Modules that would change this machine (user, group, service, apt) are compared on fleet
 * hosts in test/e2e instead.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findModule } from '../../modules/index.js';
import type { FileDiff, TaskResult } from '../../modules/types.js';
import { runModule } from '../unit/modules/harness.js';

interface Task {
  module: string;
  args: (dir: string) => Record<string, unknown>;
}
interface Case {
  name: string;
  files: Record<string, string>;
  tasks: Task[];
  /** Files compared at the end (relative to the case dir). */
  compare: string[];
  /** Result keys compared on every task that did not fail. */
  keys?: string[];
}

const PATH_INFO = [
  'state',
  'mode',
  'owner',
  'group',
  'uid',
  'gid',
  'size',
  'keyfile',
  'path',
  'user',
  'exclusive',
];

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOracleKeyOne';
const ED2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOracleKeyTwo';
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQOracleRsa';
const me = process.env.USER ?? 'root';

const CASES: Case[] = [
  {
    name: 'authorized_key',
    files: { ak: `# hand-written\n${RSA} old@host\n\n` },
    compare: ['ak'],
    keys: PATH_INFO,
    tasks: [
      { module: 'authorized_key', args: (d) => ({ user: me, path: `${d}/ak`, key: ED, manage_dir: false }) },
      { module: 'authorized_key', args: (d) => ({ user: me, path: `${d}/ak`, key: ED, manage_dir: false }) },
      {
        module: 'ansible.posix.authorized_key',
        args: (d) => ({
          user: me,
          path: `${d}/ak`,
          key: `${ED2} two`,
          key_options: 'no-pty,from="10.0.0.1"',
          manage_dir: false,
        }),
      },
      {
        module: 'authorized_key',
        args: (d) => ({ user: me, path: `${d}/ak`, key: RSA, comment: 'new comment', manage_dir: false }),
      },
      {
        module: 'authorized_key',
        args: (d) => ({
          user: me,
          path: `${d}/ak`,
          key: `${ED}\n${RSA} x`,
          exclusive: true,
          manage_dir: false,
        }),
      },
      {
        module: 'authorized_key',
        args: (d) => ({ user: me, path: `${d}/ak`, key: ED, state: 'absent', manage_dir: false }),
      },
      {
        module: 'authorized_key',
        args: (d) => ({ user: me, path: `${d}/ak`, key: ED, state: 'absent', manage_dir: false }),
      },
      {
        module: 'authorized_key',
        args: (d) => ({ user: me, path: `${d}/ak`, key: 'not a key', manage_dir: false }),
      },
    ],
  },
  {
    name: 'known_hosts',
    files: { kh: `other.example ${RSA}\n` },
    compare: ['kh'],
    keys: [...PATH_INFO, 'name', 'hash_host'],
    tasks: [
      {
        module: 'known_hosts',
        args: (d) => ({ path: `${d}/kh`, name: 'git.example', key: `git.example ${ED}` }),
      },
      {
        module: 'known_hosts',
        args: (d) => ({ path: `${d}/kh`, name: 'git.example', key: `git.example ${ED}` }),
      },
      {
        module: 'known_hosts',
        args: (d) => ({ path: `${d}/kh`, name: 'git.example', key: `git.example ${ED2}` }),
      },
      {
        module: 'known_hosts',
        args: (d) => ({ path: `${d}/kh`, name: '[git.example]:2222', key: `[git.example]:2222 ${RSA}` }),
      },
      {
        module: 'known_hosts',
        args: (d) => ({
          path: `${d}/kh`,
          name: 'other.example',
          key: `other.example ${ED}`,
          state: 'absent',
        }),
      },
      { module: 'known_hosts', args: (d) => ({ path: `${d}/kh`, name: 'other.example', state: 'absent' }) },
      {
        module: 'known_hosts',
        args: (d) => ({ path: `${d}/kh`, name: 'nope.example', key: `other.example ${ED}` }),
      },
    ],
  },
  {
    name: 'cron',
    files: { cf: '# header kept\nMAILTO=root\n' },
    compare: ['cf'],
    tasks: [
      {
        module: 'cron',
        args: (d) => ({
          name: 'backup',
          job: '/usr/bin/backup --all',
          minute: '30',
          hour: '2',
          cron_file: `${d}/cf`,
          user: 'root',
        }),
      },
      {
        module: 'cron',
        args: (d) => ({
          name: 'backup',
          job: '/usr/bin/backup --all',
          minute: '30',
          hour: '2',
          cron_file: `${d}/cf`,
          user: 'root',
        }),
      },
      {
        module: 'cron',
        args: (d) => ({
          name: 'backup',
          job: '/usr/bin/backup --all',
          minute: '30',
          hour: '3',
          cron_file: `${d}/cf`,
          user: 'root',
        }),
      },
      {
        module: 'cron',
        args: (d) => ({
          name: 'boot',
          job: 'echo "up $(date)"',
          special_time: 'reboot',
          cron_file: `${d}/cf`,
          user: 'root',
          disabled: true,
        }),
      },
      {
        module: 'cron',
        args: (d) => ({ name: 'PATH', job: '/usr/bin:/bin', env: true, cron_file: `${d}/cf`, user: 'root' }),
      },
      {
        module: 'cron',
        args: (d) => ({
          name: 'SHELL',
          job: '/bin/sh',
          env: true,
          insertafter: 'PATH',
          cron_file: `${d}/cf`,
          user: 'root',
        }),
      },
      {
        module: 'cron',
        args: (d) => ({ name: 'backup', state: 'absent', cron_file: `${d}/cf`, user: 'root' }),
      },
      {
        module: 'cron',
        args: (d) => ({ name: 'backup', state: 'absent', cron_file: `${d}/cf`, user: 'root' }),
      },
    ],
  },
  {
    name: 'sysctl',
    files: { sc: '# tuned\nnet.ipv4.ip_forward = 0\nvm.swappiness=10\n;old\nvm.swappiness = 30\nkernel.x=1' },
    compare: ['sc'],
    tasks: [
      {
        module: 'sysctl',
        args: (d) => ({ name: 'net.ipv4.ip_forward', value: '1', sysctl_file: `${d}/sc`, reload: false }),
      },
      {
        module: 'sysctl',
        args: (d) => ({ name: 'net.ipv4.ip_forward', value: 'yes', sysctl_file: `${d}/sc`, reload: false }),
      },
      {
        module: 'ansible.posix.sysctl',
        args: (d) => ({ name: 'fs.file-max', value: '100000', sysctl_file: `${d}/sc`, reload: false }),
      },
      {
        module: 'sysctl',
        args: (d) => ({ name: 'vm.swappiness', state: 'absent', sysctl_file: `${d}/sc`, reload: false }),
      },
      {
        module: 'sysctl',
        args: (d) => ({ name: 'vm.swappiness', state: 'absent', sysctl_file: `${d}/sc`, reload: false }),
      },
    ],
  },
  {
    name: 'mount',
    files: { fstab: '# /etc/fstab\nUUID=abc / ext4 errors=remount-ro 0 1\n' },
    compare: ['fstab'],
    tasks: [
      {
        module: 'mount',
        args: (d) => ({
          path: '/mnt/my data',
          src: '/dev/sdb1',
          fstype: 'ext4',
          state: 'present',
          fstab: `${d}/fstab`,
        }),
      },
      {
        module: 'mount',
        args: (d) => ({
          path: '/mnt/my data',
          src: '/dev/sdb1',
          fstype: 'ext4',
          state: 'present',
          fstab: `${d}/fstab`,
        }),
      },
      {
        module: 'ansible.posix.mount',
        args: (d) => ({
          path: '/mnt/my data',
          src: '/dev/sdb1',
          fstype: 'ext4',
          opts: 'noatime',
          boot: false,
          state: 'present',
          fstab: `${d}/fstab`,
        }),
      },
      {
        module: 'mount',
        args: (d) => ({
          path: '/srv',
          src: 'tmpfs',
          fstype: 'tmpfs',
          opts: 'size=10m',
          dump: '0',
          passno: '0',
          state: 'present',
          fstab: `${d}/fstab`,
        }),
      },
      {
        module: 'mount',
        args: (d) => ({ path: '/mnt/my data', state: 'absent_from_fstab', fstab: `${d}/fstab` }),
      },
    ],
  },
];

let root: string;
let ansible: Map<string, TaskResult>;

function caseDir(side: 'ansible' | 'drover', c: Case): string {
  return join(root, side, c.name);
}

function setup(side: 'ansible' | 'drover'): void {
  for (const c of CASES) {
    const d = caseDir(side, c);
    mkdirSync(d, { recursive: true });
    for (const [f, content] of Object.entries(c.files)) writeFileSync(join(d, f), content);
  }
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'drover-oracle-sys-'));
  setup('ansible');
  setup('drover');
  // ansible's cron needs a crontab binary even for cron_file; it is never called for one.
  mkdirSync(join(root, 'bin'));
  writeFileSync(join(root, 'bin', 'crontab'), '#!/bin/sh\nexit 1\n');
  chmodSync(join(root, 'bin', 'crontab'), 0o755);
  const tasks = CASES.flatMap((c) =>
    c.tasks.map((t, i) => ({
      name: `${c.name}#${i}`,
      [t.module]: t.args(caseDir('ansible', c)),
      ignore_errors: true,
    })),
  );
  const playbook = [{ hosts: 'localhost', gather_facts: false, tasks }];
  writeFileSync(join(root, 'pb.yml'), JSON.stringify(playbook));
  const r = spawnSync(
    'ansible-playbook',
    ['-i', 'localhost,', '-c', 'local', '--diff', join(root, 'pb.yml')],
    {
      encoding: 'utf8',
      env: {
        ...process.env,
        PATH: `${join(root, 'bin')}:${process.env.PATH}`,
        ANSIBLE_STDOUT_CALLBACK: 'json',
        ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
        ANSIBLE_LOCALHOST_WARNING: 'False',
        ANSIBLE_NOCOLOR: '1',
      },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (r.status !== 0 && r.status !== 2)
    throw new Error(`ansible-playbook failed (${r.status}): ${r.stderr}\n${r.stdout}`);
  const out = JSON.parse(r.stdout) as {
    plays: { tasks: { task: { name: string }; hosts: Record<string, TaskResult> }[] }[];
  };
  ansible = new Map();
  for (const t of out.plays[0]!.tasks) ansible.set(t.task.name, t.hosts.localhost!);
}, 120_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

function normDiff(d: unknown, dir: string): { before: string; after: string } | undefined {
  if (!d) return undefined;
  const one = (Array.isArray(d) ? d[0] : d) as FileDiff;
  if (one.before === undefined && one.after === undefined) return undefined;
  return {
    before: String(one.before ?? '').replaceAll(dir, 'DIR'),
    after: String(one.after ?? '').replaceAll(dir, 'DIR'),
  };
}

describe.each(CASES)('$name matches ansible-core', (c) => {
  it('per task changed/failed/diff and the final files', async () => {
    const dDir = caseDir('drover', c);
    const aDir = caseDir('ansible', c);
    for (const [i, t] of c.tasks.entries()) {
      const mod = findModule(t.module);
      expect(mod, t.module).toBeDefined();
      const { result } = await runModule(mod!, t.args(dDir), { diff: true });
      const a = ansible.get(`${c.name}#${i}`);
      expect(a, `ansible result for ${c.name}#${i}`).toBeDefined();
      const label = `${c.name}#${i} ${JSON.stringify(t.args('DIR'))}`;
      expect({ changed: Boolean(result.changed), failed: Boolean(result.failed) }, label).toEqual({
        changed: Boolean(a!.changed),
        failed: Boolean(a!.failed),
      });
      const ad = normDiff(a!.diff, aDir);
      const dd = normDiff(result.diff, dDir);
      if (ad && a!.changed) expect(dd, `${label} diff`).toEqual(ad);
      if (a!.failed) expect(String(result.msg), label).toContain(String(a!.msg).split(':')[0]);
      for (const k of a!.failed ? [] : (c.keys ?? [])) {
        const norm = (v: unknown) =>
          typeof v === 'string' ? v.replaceAll(aDir, 'DIR').replaceAll(dDir, 'DIR') : v;
        expect(norm(result[k]), `${label} key ${k}`).toEqual(norm(a![k]));
      }
    }
    for (const f of c.compare) {
      expect(readFileSync(join(dDir, f), 'utf8'), `${c.name}: ${f}`).toBe(
        readFileSync(join(aDir, f), 'utf8'),
      );
    }
  });
});

/**
 * git, get_url and uri against ansible-core 2.14 with `-c local`: the same task sequences,
 * an HTTP server on 127.0.0.1 and a local git repository; per task changed/failed and the
 * Ansible result keys that playbooks read (status, json, content, msg, before/after, dest,
 * checksums) must agree.
 */
describe('git, get_url, uri', () => {
  let root: string;
  let server: Server;
  let base: string;
  let ansible: TaskResult[];
  let sha1: string;
  let sha2: string;

  type T = [string, (side: string) => Record<string, unknown>, string[]];
  let TASKS: T[];

  function git(cmd: string, cwd: string): string {
    const r = spawnSync('sh', ['-c', cmd], {
      cwd,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@x',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@x',
      },
    });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout.trim();
  }

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'drover-oracle-net-'));
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (req.url === '/file.txt') {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.end('hello oracle\n');
        } else if (req.url === '/json') {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ method: req.method, body, ct: req.headers['content-type'] ?? null }));
        } else if (req.url === '/redirect') {
          res.writeHead(302, { Location: '/json' });
          res.end();
        } else {
          res.writeHead(404, { 'Content-Type': 'text/plain' });
          res.end('not here');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const work = join(root, 'work');
    mkdirSync(work);
    git('git init -q -b main . && echo one > f && git add f && git commit -q -m one && git tag v1', work);
    sha1 = git('git rev-parse HEAD', work);
    git('echo two > f && git commit -q -am two', work);
    sha2 = git('git rev-parse HEAD', work);
    git(`git clone -q --bare . ${join(root, 'origin.git')}`, work);
    const sum =
      'sha256:' + spawnSync('sha256sum', { input: 'hello oracle\n', encoding: 'utf8' }).stdout.split(' ')[0];

    for (const side of ['ansible', 'drover']) mkdirSync(join(root, side, 'dl'), { recursive: true });
    const d = (side: string, p: string) => join(root, side, p);
    TASKS = [
      [
        'get_url',
        (s) => ({ url: `${base}/file.txt`, dest: d(s, 'out.txt') }),
        ['dest', 'status_code', 'checksum_dest', 'checksum_src', 'mode', 'size'],
      ],
      ['get_url', (s) => ({ url: `${base}/file.txt`, dest: d(s, 'out.txt') }), ['dest', 'checksum_dest']],
      [
        'get_url',
        (s) => ({ url: `${base}/file.txt`, dest: d(s, 'sum.txt'), checksum: sum, mode: '0640' }),
        ['dest', 'checksum_dest', 'mode'],
      ],
      [
        'get_url',
        (s) => ({ url: `${base}/file.txt`, dest: d(s, 'sum.txt'), checksum: sum, mode: '0640' }),
        ['dest', 'checksum_dest', 'mode'],
      ],
      ['get_url', (s) => ({ url: `${base}/file.txt`, dest: d(s, 'dl') }), ['dest', 'checksum_dest']],
      ['get_url', (s) => ({ url: `${base}/missing`, dest: d(s, 'missing.txt') }), ['status_code']],
      ['get_url', (s) => ({ url: `${base}/file.txt`, dest: d(s, 'bad.txt'), checksum: 'sha256:00' }), []],
      ['uri', () => ({ url: `${base}/json` }), ['status', 'json', 'content_type', 'redirected', 'url']],
      [
        'uri',
        () => ({
          url: `${base}/json`,
          method: 'POST',
          body: { a: "it's", n: [1, 2] },
          body_format: 'json',
          return_content: true,
        }),
        ['status', 'json', 'content'],
      ],
      [
        'uri',
        () => ({
          url: `${base}/json`,
          method: 'PUT',
          body: { a: '1 2', b: '&' },
          body_format: 'form-urlencoded',
        }),
        ['status', 'json'],
      ],
      ['uri', () => ({ url: `${base}/redirect` }), ['status', 'redirected', 'url', 'json']],
      ['uri', () => ({ url: `${base}/missing` }), ['status', 'msg']],
      [
        'uri',
        () => ({ url: `${base}/missing`, status_code: [200, 404], return_content: true }),
        ['status', 'content'],
      ],
      ['uri', (s) => ({ url: `${base}/json`, creates: d(s, 'out.txt') }), ['msg', 'stdout']],
      [
        'uri',
        () => ({
          url: `${base}/json`,
          method: 'POST',
          body: { s: 'ünï ☃' },
          body_format: 'json',
          return_content: true,
        }),
        ['json'],
      ],
      [
        'git',
        (s) => ({ repo: join(root, 'origin.git'), dest: d(s, 'co'), version: 'v1' }),
        ['before', 'after'],
      ],
      [
        'git',
        (s) => ({ repo: join(root, 'origin.git'), dest: d(s, 'co'), version: 'v1' }),
        ['before', 'after'],
      ],
      [
        'git',
        (s) => ({ repo: join(root, 'origin.git'), dest: d(s, 'co'), version: 'main' }),
        ['before', 'after'],
      ],
      ['git', (s) => ({ repo: join(root, 'origin.git'), dest: d(s, 'co'), version: 'nope' }), []],
    ];

    const pb = [
      {
        hosts: 'localhost',
        gather_facts: false,
        tasks: TASKS.map(([m, args], i) => ({ name: `t${i}`, [m]: args('ansible'), ignore_errors: true })),
      },
    ];
    writeFileSync(join(root, 'pb.yml'), JSON.stringify(pb));
    // Async: the HTTP server above answers from this same process.
    const stdout = await new Promise<string>((resolve, reject) => {
      const p = spawn('ansible-playbook', ['-i', 'localhost,', '-c', 'local', join(root, 'pb.yml')], {
        env: {
          ...process.env,
          ANSIBLE_STDOUT_CALLBACK: 'json',
          ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
          ANSIBLE_LOCALHOST_WARNING: 'False',
          no_proxy: '*',
        },
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      p.stdout.on('data', (b: Buffer) => out.push(b));
      p.stderr.on('data', (b: Buffer) => err.push(b));
      p.on('error', reject);
      p.on('close', (code) => {
        if (code !== 0 && code !== 2) reject(new Error(`ansible-playbook rc=${code}: ${Buffer.concat(err)}`));
        else resolve(Buffer.concat(out).toString('utf8'));
      });
    });
    const parsed = JSON.parse(stdout) as { plays: { tasks: { hosts: Record<string, TaskResult> }[] }[] };
    ansible = parsed.plays[0]!.tasks.map((t) => t.hosts.localhost!);
  }, 120_000);

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(root, { recursive: true, force: true });
  });

  /** Side-neutral paths and sorted keys (ansible's json callback sorts them). */
  function norm(v: unknown): unknown {
    const text = JSON.stringify(v ?? null)
      .replaceAll(join(root, 'ansible'), 'SIDE')
      .replaceAll(join(root, 'drover'), 'SIDE');
    const sort = (x: unknown): unknown =>
      Array.isArray(x)
        ? x.map(sort)
        : x && typeof x === 'object'
          ? Object.fromEntries(
              Object.entries(x)
                .sort(([a], [b]) => (a < b ? -1 : 1))
                .map(([k, y]) => [k, sort(y)]),
            )
          : x;
    return sort(JSON.parse(text));
  }

  describe('match ansible-core', () => {
    it('per task changed/failed and result keys', async () => {
      expect(ansible).toHaveLength(TASKS.length);
      expect(sha1).not.toBe(sha2);
      const mismatches: string[] = [];
      for (const [i, [m, args, keys]] of TASKS.entries()) {
        const { result } = await runModule(findModule(m)!, args('drover'));
        const a = ansible[i]!;
        const label = `t${i} ${m} ${JSON.stringify(norm(args('drover')))}`;
        if (Boolean(result.changed) !== Boolean(a.changed) || Boolean(result.failed) !== Boolean(a.failed)) {
          mismatches.push(
            `${label}: changed/failed drover=${result.changed}/${result.failed} ansible=${a.changed}/${a.failed} (${String(result.msg)} | ${String(a.msg)})`,
          );
        }
        for (const k of keys) {
          if (JSON.stringify(norm(result[k])) !== JSON.stringify(norm(a[k]))) {
            mismatches.push(
              `${label}: ${k} drover=${JSON.stringify(norm(result[k]))} ansible=${JSON.stringify(norm(a[k]))}`,
            );
          }
        }
      }
      expect(mismatches).toEqual([]);
      expect(readFileSync(join(root, 'drover', 'co', 'f'), 'utf8')).toBe(
        readFileSync(join(root, 'ansible', 'co', 'f'), 'utf8'),
      );
    });
  });
});
