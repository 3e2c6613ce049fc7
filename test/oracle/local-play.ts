/**
 * Runs one playbook under ansible-playbook or drover (through tsx, no build needed) against
 * an inventory of `ansible_connection=local` hosts: the oracle tests of run-time behaviour
 * that need no fleet.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/tsx/dist/esm/index.mjs');

export const ansibleOk = spawnSync('ansible-playbook', ['--version']).status === 0;

export interface LocalRun {
  code: number | null;
  stdout: string;
  /** The `"msg": ...` lines of debug tasks, in order. */
  messages: string[];
  /** The lines after PLAY RECAP. */
  recap: string[];
}

export function runLocalPlaybook(
  tool: 'ansible' | 'drover',
  dir: string,
  o: { inventory: string; playbook: string; args?: string[] },
): LocalRun {
  writeFileSync(join(dir, 'inv.ini'), o.inventory);
  writeFileSync(join(dir, 'pb.yml'), o.playbook);
  const [cmd, base] =
    tool === 'ansible'
      ? ['ansible-playbook', []]
      : [process.execPath, ['--import', TSX, join(ROOT, 'cli/drover.ts'), 'playbook']];
  const r = spawnSync(cmd, [...base, ...(o.args ?? []), '-i', join(dir, 'inv.ini'), join(dir, 'pb.yml')], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_NOCOLOR: '1' },
  });
  const lines = r.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('PLAY RECAP'));
  return {
    code: r.status,
    stdout: r.stdout,
    messages: lines.filter((l) => l.includes('"msg":')).map((l) => l.trim()),
    recap: at < 0 ? [] : lines.slice(at + 1).filter((l) => l.trim() !== ''),
  };
}
