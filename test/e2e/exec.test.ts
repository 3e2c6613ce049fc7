/**
 * `drover exec` against the real fleet: the ad-hoc slice of issue 3, checked through the
 * CLI a user runs (output shape, exit codes), not through the engine's API.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Fleet } from '../lab/fleet.js';
import { runDrover, useFleet } from '../lab/use-fleet.js';

let fleet: Fleet;
let env: Record<string, string>;

beforeAll(async () => {
  fleet = await useFleet();
  env = { ANSIBLE_CONFIG: fleet.ansibleCfgFile, NO_COLOR: '1' };
});

const inv = () => ['-i', fleet.inventoryFile];

describe('drover exec', () => {
  it('runs a shell command on all 20 hosts, each answering its own hostname', async () => {
    expect(fleet.hosts.length).toBeGreaterThanOrEqual(20);
    const r = await runDrover(['exec', 'all', ...inv(), '-m', 'shell', '-a', 'hostname', '-o'], { env });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(fleet.hosts.length);
    for (const h of fleet.hosts) {
      expect(lines).toContain(`${h.name} | CHANGED | rc=0 | (stdout) ${h.name}`);
    }
  });

  it('prints the minimal callback shape for command and JSON for other modules', async () => {
    const h = fleet.hosts[0]!.name;
    const cmd = await runDrover(['exec', h, ...inv(), '-a', 'echo hi there'], { env });
    expect(cmd.stdout).toBe(`${h} | CHANGED | rc=0 >>\nhi there\n`);
    const ping = await runDrover(['exec', h, ...inv(), '-m', 'ping'], { env });
    expect(ping.stdout).toBe(`${h} | SUCCESS => {\n    "changed": false,\n    "ping": "pong"\n}\n`);
  });

  it('reports a stopped host UNREACHABLE, the others succeed, exit code 4', async () => {
    const [down, up] = [fleet.hosts[1]!.name, fleet.hosts[2]!.name];
    await fleet.stopHost(down);
    try {
      const r = await runDrover(['exec', `${down}:${up}`, ...inv(), '-m', 'ping', '-o', '-T', '3'], { env });
      expect(r.code).toBe(4);
      expect(r.stdout).toMatch(new RegExp(`^${down} \\| UNREACHABLE!: .*refused`, 'm'));
      expect(r.stdout).toContain(`${up} | SUCCESS => {"changed": false, "ping": "pong"}`);
    } finally {
      await fleet.startHost(down);
    }
  });

  it('exits 2 when a host fails and shows rc and stderr', async () => {
    const h = fleet.hosts[3]!.name;
    const r = await runDrover(['exec', h, ...inv(), '-m', 'shell', '-a', 'echo bad >&2; exit 3'], { env });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(`${h} | FAILED | rc=3 >>\nbadnon-zero return code\n`);
  });

  it('becomes root from the unprivileged user, and another user from root', async () => {
    const h = fleet.hosts[4]!.name;
    // The fleet inventory sets ansible_user=root, which beats -u (as in Ansible); -e beats both.
    const asDrover = ['-e', 'ansible_user=drover'];
    const up = await runDrover(['exec', h, ...inv(), ...asDrover, '-b', '-a', 'id -un', '-o'], { env });
    expect(up.stdout.trim()).toBe(`${h} | CHANGED | rc=0 | (stdout) root`);
    const plain = await runDrover(['exec', h, ...inv(), ...asDrover, '-a', 'id -un', '-o'], { env });
    expect(plain.stdout.trim()).toBe(`${h} | CHANGED | rc=0 | (stdout) drover`);
    const down = await runDrover(
      ['exec', h, ...inv(), '-b', '--become-user', 'drover', '-a', 'id -un', '-o'],
      { env },
    );
    expect(down.stdout.trim()).toBe(`${h} | CHANGED | rc=0 | (stdout) drover`);
  });

  it('refuses an unknown host key under strict checking and says how to fix it', async () => {
    const h = fleet.hosts[5]!;
    const empty = join(mkdtempSync(join(tmpdir(), 'drover-kh-')), 'known_hosts');
    writeFileSync(empty, '');
    const strictEnv = { NO_COLOR: '1', ANSIBLE_CONFIG: '/nonexistent', ANSIBLE_HOST_KEY_CHECKING: 'True' };
    const r = await runDrover(
      [
        'exec',
        h.name,
        ...inv(),
        '-m',
        'ping',
        '-o',
        '-e',
        `ansible_ssh_common_args='-o UserKnownHostsFile=${empty}'`,
      ],
      { env: strictEnv },
    );
    expect(r.code).toBe(4);
    expect(r.stdout).toContain('UNREACHABLE');
    expect(r.stdout).toContain(`ssh-keyscan -p ${h.port} 127.0.0.1`);
  });

  it('writes JSON lines with --output json, one event per line', async () => {
    const h = fleet.hosts[6]!.name;
    const r = await runDrover(['exec', h, ...inv(), '-m', 'ping', '--output', 'json'], { env });
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { v: number; type: string; host?: string });
    expect(events.every((e) => e.v === 1)).toBe(true);
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['run.start', 'task.start', 'host.result', 'recap']),
    );
    expect(events.find((e) => e.type === 'host.result')?.host).toBe(h);
  });

  it('maps usage and input errors to ansible exit codes', async () => {
    const badOpt = await runDrover(['exec', 'all', '--no-such-flag'], { env });
    expect(badOpt.code).toBe(2);
    const badModule = await runDrover(['exec', 'all', ...inv(), '-m', 'no_such_module'], { env });
    expect(badModule.code).toBe(2);
    expect(badModule.stderr).toContain("couldn't resolve module/action 'no_such_module'");
    const missing = await runDrover(['playbook', ...inv(), '/nonexistent/site.yml'], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('could not be found');
  });
});
