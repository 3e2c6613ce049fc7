/**
 * System modules against ansible-core 2.14 (the oracle) on files in scratch directories:
 * the same task sequence runs once through `ansible-playbook -c local` (one invocation for
 * every case) and once through drover's planners with the local sh; per task `changed`,
 * `failed` and the --diff before/after must agree, and so must the files at the end.
 * Modules that would change this machine (user, group, service, apt) are compared on fleet
 * hosts in test/e2e instead.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
}

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOracleKeyOne';
const ED2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOracleKeyTwo';
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQOracleRsa';
const me = process.env.USER ?? 'root';

const CASES: Case[] = [
  {
    name: 'authorized_key',
    files: { ak: `# hand-written\n${RSA} old@host\n\n` },
    compare: ['ak'],
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
    }
    for (const f of c.compare) {
      expect(readFileSync(join(dDir, f), 'utf8'), `${c.name}: ${f}`).toBe(
        readFileSync(join(aDir, f), 'utf8'),
      );
    }
  });
});
