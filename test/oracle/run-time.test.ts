/**
 * `meta: refresh_inventory` and facts gathered for a delegated host, against ansible-playbook.
 * Local connections: no hosts needed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ansibleOk, runLocalPlaybook } from './local-play.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-refresh-inv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const REFRESH = `
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

const DELEGATED_FACTS = `
- hosts: a
  gather_facts: false
  tasks:
    - setup: {gather_subset: [min]}
      delegate_to: b
      delegate_facts: true
    - debug: {msg: "b={{ hostvars['b'].ansible_facts.system | default('none') }} a={{ hostvars['a'].ansible_facts.system | default('none') }}"}
- hosts: b
  gather_facts: false
  tasks:
    - debug: {msg: "in play b: {{ ansible_system | default('none') }}"}
`;

describe.skipIf(!ansibleOk)('run-time inventory and facts match ansible-core', () => {
  it('refresh_inventory reads the rewritten sources, keeps add_host hosts; the next play sees them', () => {
    // One fork: hosts report in inventory order, not in the order they finish.
    const o = { inventory: '[web]\nw1 ansible_connection=local\n', playbook: REFRESH, args: ['-f', '1'] };
    const theirs = runLocalPlaybook('ansible', dir, o);
    const ours = runLocalPlaybook('drover', dir, o);
    expect([theirs.code, ours.code]).toEqual([0, 0]);
    expect(ours.messages).toEqual(theirs.messages);
    expect(ours.recap).toEqual(theirs.recap);
    // Not vacuous: the new hosts are there, and the refresh changed what groups said.
    expect(ours.messages).toContain('"msg": "after w1,w2,extra1 d1 True"');
    expect(ours.messages).toContain('"msg": "d1 of w1,w2,extra1,d1"');
  });

  it('setup with delegate_facts gives the facts to the delegated host only', () => {
    const inventory = 'a ansible_connection=local\nb ansible_connection=local\n';
    const o = { inventory, playbook: DELEGATED_FACTS };
    const theirs = runLocalPlaybook('ansible', dir, o);
    const ours = runLocalPlaybook('drover', dir, o);
    expect([theirs.code, ours.code]).toEqual([0, 0]);
    expect(ours.messages).toEqual(theirs.messages);
    expect(ours.messages).toEqual(['"msg": "b=Linux a=none"', '"msg": "in play b: Linux"']);
    expect(ours.recap).toEqual(theirs.recap);
  });
});
