/**
 * Inventory benchmark: a generated 10,000-host INI inventory in 200 groups (under 20 parent
 * groups, with [g:vars], inline host vars, group_vars/ and host_vars/ files). drover loads it
 * and resolves every host's variables; `ansible-inventory --list` does the same work.
 * Run alone: `node dist/bench/inventory.js`.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadInventory } from '../src/inventory/inventory.js';

export interface InventoryBenchSize {
  hosts: number;
  groups: number;
  parents: number;
}

/** Writes the generated inventory into `dir`; returns the INI file's path. */
export function generateInventory(
  dir: string,
  size: InventoryBenchSize = { hosts: 10_000, groups: 200, parents: 20 },
): string {
  const perGroup = Math.ceil(size.hosts / size.groups);
  const lines: string[] = [];
  mkdirSync(join(dir, 'group_vars'), { recursive: true });
  mkdirSync(join(dir, 'host_vars'), { recursive: true });
  for (let g = 0; g < size.groups; g++) {
    const name = `g${String(g).padStart(3, '0')}`;
    const first = g * perGroup + 1;
    const last = Math.min(size.hosts, first + perGroup - 1);
    // A range line expands to 50 hosts; every tenth host also gets inline vars.
    lines.push(
      `[${name}]`,
      `h[${String(first).padStart(5, '0')}:${String(last).padStart(5, '0')}].bench.example.com`,
    );
    for (let h = first; h <= last; h += 10)
      lines.push(`h${String(h).padStart(5, '0')}.bench.example.com rack=${h % 40} ssd=True`);
    lines.push(`[${name}:vars]`, `group_index=${g}`, `tier="${g % 3 === 0 ? 'web' : 'app'}"`, '');
    if (g % 4 === 0)
      writeFileSync(join(dir, 'group_vars', `${name}.yml`), `from_file: ${name}\nlist: [1, 2, 3]\n`);
  }
  for (let p = 0; p < size.parents; p++) {
    lines.push(`[p${p}:children]`);
    for (let g = p; g < size.groups; g += size.parents) lines.push(`g${String(g).padStart(3, '0')}`);
    lines.push(`[p${p}:vars]`, `parent=p${p}`, '');
  }
  lines.push('[all:vars]', 'ansible_user=deploy', 'ntp_server=ntp.example.com');
  writeFileSync(join(dir, 'group_vars', 'all.yml'), 'env: bench\n');
  for (let h = 1; h <= size.hosts; h += 500) {
    writeFileSync(
      join(dir, 'host_vars', `h${String(h).padStart(5, '0')}.bench.example.com.yml`),
      `special: ${h}\n`,
    );
  }
  const file = join(dir, 'hosts');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function runAnsibleInventory(file: string, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'ansible-inventory',
      ['-i', file, '--list', '--output', join(cwd, 'ansible.json')],
      { cwd, env: { ...process.env, ANSIBLE_INVENTORY_ENABLED: 'ini' }, maxBuffer: 256 * 1024 * 1024 },
      (err, _stdout, stderr) => (err ? reject(new Error(`ansible-inventory failed: ${stderr}`)) : resolve()),
    );
  });
}

export async function benchInventory(): Promise<{ name: string; droverMs: number; ansibleMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'drover-bench-inv-'));
  try {
    const file = generateInventory(dir);
    const t0 = performance.now();
    const inv = await loadInventory({ sources: [file], cwd: dir });
    let vars = 0;
    for (const h of inv.hostNames()) vars += Object.keys(inv.hostVars(h)).length;
    const droverMs = performance.now() - t0;
    if (inv.hostNames().length !== 10_000 || vars === 0)
      throw new Error('inventory bench did not load the generated hosts');
    const t1 = performance.now();
    await runAnsibleInventory(file, dir);
    const ansibleMs = performance.now() - t1;
    return { name: 'inventory: load 10,000 hosts / 200 groups + resolve all host vars', droverMs, ansibleMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchInventory();
  process.stdout.write(
    `${r.name}\n  drover  ${r.droverMs.toFixed(0)} ms\n  ansible ${r.ansibleMs.toFixed(0)} ms\n  ratio   ${(r.ansibleMs / r.droverMs).toFixed(1)}x\n`,
  );
}
