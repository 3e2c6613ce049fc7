/**
 * `--detailed-exitcode` as a CI gate (issue 7): 0 on a converged fleet, 2 when one file
 * drifted (a `--check --diff` run reports it and changes nothing), 1 on a failed or an
 * unreachable host; Ansible's own codes (2 failed, 4 unreachable) without the flag.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fleet } from '../lab/fleet.js';
import { runDrover, runSsh, useFleet } from '../lab/use-fleet.js';

const DOWN_PORT = 25291;

let fleet: Fleet;
let dir: string;
let hosts: string[];

const PLAYBOOK = `- name: converge
  hosts: all
  gather_facts: false
  tasks:
    - name: the managed file
      copy:
        dest: /srv/ci-drift.txt
        content: "converged\\n"
        mode: "0644"
    - name: fail on demand
      fail:
        msg: asked to fail
      when: fail_now | default(false) | bool
`;

function drover(extra: string[], limit = hosts.join(',')) {
  return runDrover(
    [
      'playbook',
      '-i',
      fleet.inventoryFile,
      '-i',
      join(dir, 'down.ini'),
      '-l',
      limit,
      join(dir, 'converge.yml'),
      ...extra,
    ],
    { env: { ANSIBLE_CONFIG: fleet.ansibleCfgFile, NO_COLOR: '1' }, timeoutMs: 60_000 },
  );
}

beforeAll(async () => {
  fleet = await useFleet();
  hosts = [fleet.hosts[2]!.name, fleet.hosts[3]!.name];
  await Promise.all(hosts.map((h) => fleet.resetHost(h)));
  dir = mkdtempSync(join(tmpdir(), 'drover-ci-exit-'));
  writeFileSync(join(dir, 'converge.yml'), PLAYBOOK);
  writeFileSync(
    join(dir, 'down.ini'),
    `down1 ansible_host=127.0.0.1 ansible_port=${DOWN_PORT} ansible_user=root\n`,
  );
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => fleet.resetHost(h)));
  rmSync(dir, { recursive: true, force: true });
});

describe('--detailed-exitcode', () => {
  it('is documented in --help', async () => {
    const r = await runDrover(['playbook', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--detailed-exitcode');
    expect(r.stdout).toContain(
      'With --detailed-exitcode (for CI gates): 0 no changes, 2 changes, 1 failures',
    );
  });

  it('2 when it changes things, 0 once converged, 2 for one drifted file under --check, 1 on failures', async () => {
    const first = await drover(['--detailed-exitcode']);
    expect(first.code, first.stdout + first.stderr).toBe(2);

    const check = await drover(['--check', '--diff', '--detailed-exitcode']);
    expect(check.code, check.stdout).toBe(0);
    const again = await drover(['--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);

    // One file drifts on one host: the dry run says "would change" (2), shows it, changes nothing.
    const [drifted, clean] = hosts as [string, string];
    await runSsh(fleet, drifted, 'printf "hand edit\\n" > /srv/ci-drift.txt');
    const gate = await drover(['--check', '--diff', '--detailed-exitcode']);
    expect(gate.code, gate.stdout).toBe(2);
    expect(gate.stdout).toContain(`changed: [${drifted}]`);
    expect(gate.stdout).toContain(`ok: [${clean}]`);
    expect(gate.stdout).toContain('-hand edit');
    expect(gate.stdout).toContain('+converged');
    expect((await runSsh(fleet, drifted, 'cat /srv/ci-drift.txt')).stdout).toBe('hand edit\n');

    // Failures: 1 with the flag (even though something also changed), Ansible's 2 without it.
    const failed = await drover(['--detailed-exitcode', '-e', 'fail_now=true']);
    expect(failed.code, failed.stdout).toBe(1);
    expect((await drover(['-e', 'fail_now=true'])).code).toBe(2);

    // An unreachable host: 1 with the flag, Ansible's 4 without it.
    const limit = `${hosts.join(',')},down1`;
    const down = await drover(['--check', '--detailed-exitcode'], limit);
    expect(down.code, down.stdout).toBe(1);
    expect((await drover(['--check'], limit)).code).toBe(4);
  });
});
