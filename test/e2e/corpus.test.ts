/**
 * The playbook corpus oracle (issue 5's "Done when"): every playbook of test/e2e/corpus/ is
 * run by ansible-playbook on three fresh hosts and by drover on three twin fresh hosts, both
 * given the same inventory (web1, web2, db1 and an unreachable `ghost`) pointing at their own
 * hosts. Results are written to files on the hosts (and to a controller dir), so comparing
 * the exit code, the per-host recap and every file byte for byte checks the engine end to
 * end; a second run must give the same recap (changed=0 where Ansible has it).
 *
 * Hosts are reset between playbooks (a few ms) rather than booted anew.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fleet } from '../lab/fleet.js';
import { repoRoot } from '../lab/repo-root.js';
import { type RunResult, runCommand, runDrover, runSsh, useFleet } from '../lab/use-fleet.js';

const CORPUS = join(import.meta.dirname, 'corpus');
const NAMES = ['web1', 'web2', 'db1'] as const;
/** Fleet host indices: Ansible's three, then drover's three. */
const ANSIBLE_HOSTS = [12, 13, 14];
const DROVER_HOSTS = [15, 16, 17];

interface Case {
  playbook: string;
  args?: string[];
  /** Run a second time and compare that recap too (idempotence). */
  rerun?: boolean;
  /** The free strategy interleaves banners by timing: not compared then. */
  freeStrategy?: boolean;
}

const CASES: Case[] = [
  { playbook: 'hosts.yml', freeStrategy: true },
  { playbook: 'filters.yml', rerun: true },
  { playbook: 'loops.yml' },
  { playbook: 'control.yml' },
  { playbook: 'roles.yml', rerun: true },
  { playbook: 'tags.yml', args: ['--tags', 'deploy,debugonly', '--skip-tags', 'slow', '--force-handlers'] },
];

let fleet: Fleet;
let work: string;

interface Side {
  name: 'ansible' | 'drover';
  hosts: string[];
  inventory: string;
  ctl: string;
}
let sides: [Side, Side];

function inventory(fleetHosts: string[]): string {
  const port = (h: string) => fleet.host(h).port;
  const [w1, w2, d1] = fleetHosts as [string, string, string];
  return `[web]
web1 ansible_host=127.0.0.1 ansible_port=${port(w1)}
web2 ansible_host=127.0.0.1 ansible_port=${port(w2)} tier=2
[db]
db1 ansible_host=127.0.0.1 ansible_port=${port(d1)}
[app:children]
web
db
[other]
ghost ansible_host=127.0.0.1 ansible_port=1
[all:vars]
ansible_user=root
ansible_ssh_private_key_file=${fleet.keyFile}
ansible_python_interpreter=/usr/bin/python3
site=corpus
[web:vars]
tier=1
`;
}

/** The PLAY / TASK / RUNNING HANDLER / NO MORE HOSTS LEFT banners, in order. */
function bannersOf(stdout: string): string[] {
  return stdout.split('\n').filter((l) => /^(PLAY \[|TASK \[|RUNNING HANDLER \[|NO MORE HOSTS LEFT)/.test(l));
}

/** `NAME : ok=.. changed=..` recap lines, keyed by host. */
function recapOf(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  const at = stdout.lastIndexOf('PLAY RECAP');
  for (const line of stdout.slice(at).split('\n').slice(1)) {
    const m = /^(\S+)\s+:\s+(ok=.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim().replace(/\s+/g, ' ');
  }
  return out;
}

async function filesOf(host: string): Promise<string> {
  const r = await runSsh(
    fleet,
    host,
    'cd /srv && for f in $(ls -A | sort); do stat -c "%n %F %a %U:%G %s" "$f"; [ -f "$f" ] && sed "s/^/  /" "$f"; done',
  );
  return r.stdout;
}

async function controllerFilesOf(dir: string): Promise<string> {
  const names = (await readdir(dir)).sort();
  // Password lookup files hold random passwords: their shape is what must agree.
  const shape = (n: string, text: string) => (n.startsWith('pw-') ? text.replace(/[0-9]/g, '9') : text);
  const parts = await Promise.all(
    names.map(async (n) => `${n}: ${shape(n, await readFile(join(dir, n), 'utf8'))}`),
  );
  return parts.join('\n');
}

/** roles.yml uses a role found only through roles_path (ANSIBLE_ROLES_PATH, read by both). */
const ROLES_PATH = join(CORPUS, 'shared-roles');

async function run(side: Side, c: Case): Promise<RunResult> {
  const args = [join(CORPUS, c.playbook), '-e', `ctl=${side.ctl}`, ...(c.args ?? [])];
  if (side.name === 'ansible') {
    // Not runAnsiblePlaybook: that one adds the fleet's own inventory.
    return runCommand('ansible-playbook', ['-i', side.inventory, ...args], {
      // Retries: on a loaded machine OpenSSH's ControlMaster sometimes drops a session
      // ("Data could not be sent"), which would fail the oracle, not drover.
      env: {
        ANSIBLE_CONFIG: fleet.ansibleCfgFile,
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_SSH_RETRIES: '3',
        ANSIBLE_ROLES_PATH: ROLES_PATH,
      },
    });
  }
  return runDrover(['playbook', '-i', side.inventory, ...args], {
    env: { ANSIBLE_CONFIG: fleet.ansibleCfgFile, NO_COLOR: '1', ANSIBLE_ROLES_PATH: ROLES_PATH },
  });
}

beforeAll(async () => {
  fleet = await useFleet();
  work = await mkdtemp(join(tmpdir(), 'drover-corpus-'));
  const names = (idx: number[]) => idx.map((i) => fleet.hosts[i]!.name);
  sides = [
    {
      name: 'ansible',
      hosts: names(ANSIBLE_HOSTS),
      inventory: join(work, 'ansible.ini'),
      ctl: join(work, 'ctl-a'),
    },
    {
      name: 'drover',
      hosts: names(DROVER_HOSTS),
      inventory: join(work, 'drover.ini'),
      ctl: join(work, 'ctl-d'),
    },
  ];
  for (const s of sides) await writeFile(s.inventory, inventory(s.hosts));
});

afterAll(async () => {
  if (sides) await Promise.all(sides.flatMap((s) => s.hosts.map((h) => fleet.resetHost(h))));
  if (work) await rm(work, { recursive: true, force: true });
});

describe('playbook corpus: ansible-playbook vs drover on twin fresh hosts', () => {
  for (const c of CASES) {
    it(`${c.playbook}${c.args ? ` ${c.args.join(' ')}` : ''}`, async () => {
      await Promise.all(sides.flatMap((s) => s.hosts.map((h) => fleet.resetHost(h))));
      for (const s of sides) {
        await rm(s.ctl, { recursive: true, force: true });
        await mkdir(s.ctl, { recursive: true });
      }
      const [ans1, drv1] = await Promise.all(sides.map((s) => run(s, c)));
      const why = `--- ansible:\n${ans1!.stdout}${ans1!.stderr}\n--- drover:\n${drv1!.stdout}${drv1!.stderr}`;
      expect(drv1!.code, why).toBe(ans1!.code);
      expect(recapOf(drv1!.stdout), why).toEqual(recapOf(ans1!.stdout));
      if (!c.freeStrategy) expect(bannersOf(drv1!.stdout), why).toEqual(bannersOf(ans1!.stdout));
      expect(Object.keys(recapOf(ans1!.stdout)).length, why).toBeGreaterThan(0);
      for (let i = 0; i < NAMES.length; i++) {
        const [a, d] = await Promise.all(sides.map((s) => filesOf(s.hosts[i]!)));
        expect(d, `files of ${NAMES[i]}\n${why}`).toBe(a);
      }
      const [ca, cd] = await Promise.all(sides.map((s) => controllerFilesOf(s.ctl)));
      expect(cd, 'controller files').toBe(ca);

      if (c.rerun) {
        const [ans2, drv2] = await Promise.all(sides.map((s) => run(s, c)));
        const why2 = `--- ansible:\n${ans2!.stdout}\n--- drover:\n${drv2!.stdout}${drv2!.stderr}`;
        expect(recapOf(drv2!.stdout), why2).toEqual(recapOf(ans2!.stdout));
      }
    });
  }
});

describe('drover playbook on the controller: status line, vars_prompt, --step, several playbooks', () => {
  const local = (pb: string, extra: string[] = [], input = '') =>
    runDrover(['playbook', '-i', 'localhost,', '-c', 'local', pb, ...extra], {
      input,
      env: { NO_COLOR: '1' },
    });

  it('shows the live status line on a terminal only, never in piped output', async () => {
    const pb = join(work, 'slow.yml');
    await writeFile(
      pb,
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: slow\n      command: sleep 3\n',
    );
    const piped = await local(pb);
    expect(piped.code, piped.stdout + piped.stderr).toBe(0);
    expect(piped.stdout).not.toContain('hosts done');
    expect(piped.stdout).not.toContain('\r');
    // `script` gives drover a pseudo-terminal: there the line shows while the task runs.
    const drover = join(repoRoot(), 'dist', 'cli', 'drover.js');
    const tty = await runCommand('script', [
      '-qfc',
      `${process.execPath} ${drover} playbook -i localhost, -c local ${pb}`,
      '/dev/null',
    ]);
    expect(tty.stdout).toContain('[0/1 hosts done] slow: waiting on localhost');
  });

  it('vars_prompt: -e answers it, a default stands in without a terminal, else a clear error', async () => {
    const pb = join(work, 'prompt.yml');
    const prompts = (dflt: string) =>
      `- hosts: all\n  gather_facts: false\n  vars_prompt:\n    - name: who\n      prompt: Who\n${dflt}  tasks:\n    - debug: {msg: "hello {{ who }}"}\n`;
    await writeFile(pb, prompts(''));
    const none = await local(pb);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("vars_prompt 'who'");
    expect(none.stderr).toContain('-e who=VALUE');
    expect(none.stdout).not.toContain('PLAY ['); // asked before the play starts
    const given = await local(pb, ['-e', 'who=extra']);
    expect(given.stdout).toContain('"msg": "hello extra"');
    await writeFile(pb, prompts('      default: dflt\n      private: false\n'));
    const dflt = await local(pb);
    expect(dflt.stdout).toContain('"msg": "hello dflt"');
  });

  it('vars_prompt on a terminal: default shown, private and confirmed answers, encrypt', async () => {
    const pb = join(work, 'prompt-tty.yml');
    await writeFile(
      pb,
      `- hosts: all
  gather_facts: false
  vars_prompt:
    - {name: who, prompt: Who are you, default: nobody, private: false}
    - {name: pw, prompt: Password, confirm: true}
    - {name: hashed, prompt: Hash me, encrypt: sha512_crypt, salt_size: 8, default: x}
  tasks:
    - debug: {msg: "who={{ who }} pw={{ pw | length }}/{{ pw == 's3cret' }} hashed={{ hashed[:3] }}"}
`,
    );
    const drover = join(repoRoot(), 'dist', 'cli', 'drover.js');
    // Answers are typed when their question shows, as a person would.
    const answers: [string, string][] = [
      ['Who are you [nobody]: ', 'me'],
      ['confirm Password: ', 's3cret'],
      ['Password: ', 's3cret'],
      ['Hash me [x]: ', 'hunter2'],
    ];
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('script', [
        '-qfc',
        `${process.execPath} ${drover} playbook -i localhost, -c local ${pb}`,
        '/dev/null',
      ]);
      let text = '';
      const asked = new Set<string>();
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.stdout.on('data', (b: Buffer) => {
        text += b.toString();
        const tail = text.slice(text.lastIndexOf('\n') + 1);
        for (const [q, a] of answers) {
          const key = `${q}@${text.length - tail.length}`;
          if (tail.endsWith(q) && !asked.has(key)) {
            asked.add(key);
            child.stdin.write(`${a}\n`);
            break;
          }
        }
      });
      child.once('error', reject);
      child.once('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
    });
    expect(out).toContain('Who are you [nobody]: me');
    expect(out).not.toContain('s3cret'); // private answers are not echoed
    expect(out).toContain('"msg": "who=me pw=6/True hashed=$6$"');
  });

  it('--step asks before each task: y runs it, n skips it, c runs the rest without asking', async () => {
    const pb = join(work, 'step.yml');
    const tasks = ['one', 'two', 'three', 'four'].map((n) => `    - name: ${n}\n      debug: {msg: ${n}}\n`);
    await writeFile(pb, `- hosts: all\n  gather_facts: false\n  tasks:\n${tasks.join('')}`);
    const r = await local(pb, ['--step'], 'y\nn\nc\n');
    expect(r.stdout.match(/Perform task: TASK: \w+ \(N\)o\/\(y\)es\/\(c\)ontinue: /g)).toHaveLength(3);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('TASK ['))).toEqual([
      expect.stringMatching(/^TASK \[one\]/),
      expect.stringMatching(/^TASK \[three\]/),
      expect.stringMatching(/^TASK \[four\]/),
    ]);
  });

  it('every bad playbook fixture: exit 4, its file:line:col, and no host contacted', async () => {
    const dir = join(repoRoot(), 'test', 'fixtures', 'playbooks', 'bad');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yml') && f !== 'duplicate-key.yml').sort();
    expect(files.length).toBeGreaterThanOrEqual(20);
    const host = sides[1].hosts[0]!;
    const before = await fleet.digest(host);
    const r = await runDrover(['playbook', '-i', sides[1].inventory, ...files.map((f) => join(dir, f))], {
      env: { ANSIBLE_CONFIG: fleet.ansibleCfgFile, NO_COLOR: '1' },
    });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).not.toContain('PLAY [');
    // Each problem names its file:line:col (an included file's for a few fixtures).
    const problems = r.stderr.split('\n').filter((l) => l.startsWith('  - '));
    expect(problems.length).toBeGreaterThanOrEqual(files.length);
    for (const p of problems) expect(p).toMatch(/^ {2}- \/\S+\.yml:\d+:\d+: /);
    expect(await fleet.digest(host)).toBe(before);
  });

  it('reports the problems of every playbook given, with file:line:col, exit 4', async () => {
    const bad = join(repoRoot(), 'test', 'fixtures', 'playbooks', 'bad');
    const r = await local(join(bad, 'module-typo.yml'), [join(bad, 'keyword-typo.yml')]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/module-typo\.yml:\d+:\d+: couldn't resolve module\/action 'debg'/);
    expect(r.stderr).toMatch(/keyword-typo\.yml:\d+:\d+: 'whne' is not a valid attribute/);
  });
});
