/**
 * `meta: refresh_inventory` against ansible-playbook: a task rewrites the inventory file,
 * the refresh reads it again, hosts from add_host stay (ansible-core 2.14 keeps them), and
 * the next play selects from the new inventory. Local connections: no hosts needed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/tsx/dist/esm/index.mjs');
const dir = mkdtempSync(join(tmpdir(), 'drover-refresh-inv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ansibleOk = spawnSync('ansible-playbook', ['--version']).status === 0;

const PLAYBOOK = `
- hosts: localhost
  gather_facts: false
  tasks:
    - add_host: {name: extra1, groups: web, ansible_connection: local}
    - copy:
        dest: "{{ playbook_dir }}/inv.ini"
        content: |
          [web]
          w1 ansible_connection=local
          w2 ansible_connection=local
          [db]
          d1 ansible_connection=local
    - debug: {msg: "before {{ groups['web'] | join(',') }} {{ groups['db'] | default([]) | join(',') }}"}
    - meta: refresh_inventory
    - debug: {msg: "after {{ groups['web'] | join(',') }} {{ groups['db'] | join(',') }} {{ 'extra1' in hostvars }}"}
- hosts: web:db
  gather_facts: false
  tasks:
    - debug: {msg: "{{ inventory_hostname }} of {{ ansible_play_hosts_all | join(',') }}"}
`;

/** The messages, play banners and recap of one run from a fresh one-host inventory. */
function run(cmd: string, args: string[]): { code: number | null; lines: string[] } {
  writeFileSync(join(dir, 'inv.ini'), '[web]\nw1 ansible_connection=local\n');
  writeFileSync(join(dir, 'pb.yml'), PLAYBOOK);
  // One fork: hosts report in inventory order, not in the order they finish.
  const r = spawnSync(cmd, [...args, '-f', '1', '-i', join(dir, 'inv.ini'), join(dir, 'pb.yml')], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_NOCOLOR: '1' },
  });
  const lines = r.stdout.split('\n').filter((l) => /"msg"|^PLAY|ok=/.test(l));
  return { code: r.status, lines };
}

describe.skipIf(!ansibleOk)('meta: refresh_inventory matches ansible-core', () => {
  it('reads the rewritten sources, keeps add_host hosts, and the next play sees the new hosts', () => {
    const theirs = run('ansible-playbook', []);
    const ours = run(process.execPath, ['--import', TSX, join(ROOT, 'cli/drover.ts'), 'playbook']);
    expect(theirs.code).toBe(0);
    expect(ours.code).toBe(0);
    expect(ours.lines).toEqual(theirs.lines);
    // Not vacuous: the new hosts are there, and the refresh changed what groups said.
    expect(ours.lines).toContain('    "msg": "after w1,w2,extra1 d1 True"');
    expect(ours.lines).toContain('    "msg": "d1 of w1,w2,extra1,d1"');
  });
});
