/**
 * `drover inventory` as a user runs it: option checks, --host, --limit, --output, YAML.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { inventoryCommand } from '../../../cli/inventory.js';
import { UsageError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-inv-cli-'));
const hosts = join(dir, 'hosts');
writeFileSync(hosts, '[web]\nweb1 port=80\nweb2\n[db]\ndb1\n[prod:children]\nweb\ndb\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ out: string; warnings: string[] }> {
  let out = '';
  const warnings: string[] = [];
  const cmd = inventoryCommand({ write: (t) => (out += t), warn: (m) => warnings.push(m) });
  cmd.exitOverride();
  await cmd.parseAsync(['-i', hosts, ...args], { from: 'user' });
  return { out, warnings };
}

describe('drover inventory', () => {
  it('needs exactly one of --list, --host, --graph', async () => {
    await expect(run([])).rejects.toBeInstanceOf(UsageError);
    await expect(run(['--list', '--graph'])).rejects.toThrow(/only one of --host, --graph or --list/);
  });

  it('prints one host, and refuses a pattern that is not one host', async () => {
    expect(JSON.parse((await run(['--host', 'web1'])).out)).toEqual({ port: 80 });
    await expect(run(['--host', 'web'])).rejects.toThrow(/single valid host/);
  });

  it('narrows --list with --limit', async () => {
    const list = JSON.parse((await run(['--list', '-l', 'prod:!web2'])).out);
    expect(list.web).toEqual({ hosts: ['web1'] });
    expect(list.db).toEqual({ hosts: ['db1'] });
    expect(Object.keys(list._meta.hostvars)).toEqual(['web1']);
  });

  it('writes YAML to --output', async () => {
    const file = join(dir, 'out.yml');
    const { out } = await run(['--list', '--yaml', '--output', file]);
    expect(out).toBe('');
    expect(YAML.parse(readFileSync(file, 'utf8'))).toEqual({
      all: {
        children: {
          ungrouped: {},
          prod: {
            children: { web: { hosts: { web1: { port: 80 }, web2: {} } }, db: { hosts: { db1: {} } } },
          },
        },
      },
    });
  });

  it('graphs from a group', async () => {
    expect((await run(['--graph', 'prod'])).out).toBe(
      '@prod:\n  |--@web:\n  |  |--web1\n  |  |--web2\n  |--@db:\n  |  |--db1',
    );
  });
});
