/**
 * Which hosts get a PLAY RECAP line, against ansible-playbook: a host appears once a result
 * was counted for it, so a host that run_once passed over, or whose tasks were all tagged
 * out, has no line, while a skipped task still counts. Local connections: no hosts needed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/tsx/dist/esm/index.mjs');
const dir = mkdtempSync(join(tmpdir(), 'drover-recap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(
  join(dir, 'inv.ini'),
  'a ansible_connection=local\nb ansible_connection=local\nc ansible_connection=local\n',
);

const ansibleOk = spawnSync('ansible-playbook', ['--version']).status === 0;

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

function recap(cmd: string, args: string[], playbook: string): { code: number | null; lines: string[] } {
  const file = join(dir, 'pb.yml');
  writeFileSync(file, playbook);
  const r = spawnSync(cmd, [...args, '-i', join(dir, 'inv.ini'), file], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_NOCOLOR: '1' },
  });
  const out = r.stdout.split('\n');
  const at = out.findIndex((l) => l.startsWith('PLAY RECAP'));
  return { code: r.status, lines: at < 0 ? [] : out.slice(at + 1).filter((l) => l.trim() !== '') };
}

describe.skipIf(!ansibleOk)('PLAY RECAP hosts match ansible-core', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(name, () => {
      const theirs = recap('ansible-playbook', c.args ?? [], c.playbook);
      const ours = recap(
        process.execPath,
        ['--import', TSX, join(ROOT, 'cli/drover.ts'), 'playbook', ...(c.args ?? [])],
        c.playbook,
      );
      expect(theirs.code).toBe(0);
      expect(ours.code).toBe(0);
      expect(ours.lines).toEqual(theirs.lines);
      expect(ours.lines.map((l) => l.split(/\s+/)[0])).toEqual(c.hosts);
    });
  }
});
