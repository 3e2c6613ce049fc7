/**
 * Which hosts get a PLAY RECAP line, against ansible-playbook: a host appears once a result
 * was counted for it, so a host that run_once passed over, or whose tasks were all tagged
 * out, has no line, while a skipped task still counts. Local connections: no hosts needed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ansibleOk, runLocalPlaybook } from './local-play.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-recap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const inventory = 'a ansible_connection=local\nb ansible_connection=local\nc ansible_connection=local\n';

const CASES: Record<string, { playbook: string; args?: string[]; hosts: string[] }> = {
  'run_once alone': {
    playbook:
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: {msg: once}\n      run_once: true\n',
    hosts: ['a'],
  },
  'every task tagged out on some hosts': {
    playbook: [
      '- hosts: all',
      '  gather_facts: false',
      '  tasks:',
      '    - debug: {msg: tagged}',
      '      tags: [t]',
      '- hosts: b',
      '  gather_facts: false',
      '  tasks:',
      '    - debug: {msg: untagged}',
      '',
    ].join('\n'),
    args: ['--skip-tags', 't'],
    hosts: ['b'],
  },
  'a skipped task still counts': {
    playbook:
      "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: {msg: x}\n      when: inventory_hostname == 'c'\n",
    hosts: ['a', 'b', 'c'],
  },
};

describe.skipIf(!ansibleOk)('PLAY RECAP hosts match ansible-core', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(name, () => {
      const o = { inventory, playbook: c.playbook, args: c.args ?? [] };
      const theirs = runLocalPlaybook('ansible', dir, o);
      const ours = runLocalPlaybook('drover', dir, o);
      expect(theirs.code).toBe(0);
      expect(ours.code).toBe(0);
      expect(ours.recap).toEqual(theirs.recap);
      expect(ours.recap.map((l) => l.split(/\s+/)[0])).toEqual(c.hosts);
    });
  }
});
