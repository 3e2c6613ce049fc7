/**
 * The Inventory API the engine calls: magic vars, `groups`, add_host / group_by, the
 * playbook-dir vars level, and the literal / range rules underneath.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  expandHostnameRange,
  HOSTNAME,
  HOSTNAME_ASCII,
  parseAddress,
} from '../../../src/inventory/address.js';
import { loadInventory } from '../../../src/inventory/inventory.js';
import { iniValue } from '../../../src/inventory/literal.js';
import { splitHostPattern } from '../../../src/inventory/pattern.js';

const root = mkdtempSync(join(tmpdir(), 'drover-inv-api-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(rel: string, text: string): string {
  const p = join(root, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

describe('Python literal rules of INI values', () => {
  it.each([
    ['80', 80],
    ['-0x10', -16],
    ['1_000', 1000],
    ['1.5e3', 1500],
    ['True', true],
    ['None', null],
    ['yes', 'yes'],
    ['true', 'true'],
    ["'quoted'", 'quoted'],
    ['"a" \'b\'', 'ab'],
    ['[1, "two", (3, 4)]', [1, 'two', [3, 4]]],
    ["{'a': {'b': None}}", { a: { b: null } }],
    ['1,2', [1, 2]],
    ['010', '010'],
    ['42 # note', 42],
    ['hello world', 'hello world'],
    ["'caf\\u00e9\\n'", 'café\n'],
    ['{1, 2}', '{1, 2}'],
  ])('%s', (src, want) => {
    expect(iniValue(src)).toEqual(want);
  });
});

describe('addresses and ranges', () => {
  it('splits ports off names and bracketed addresses', () => {
    expect(parseAddress('web1:2222', true)).toEqual({ host: 'web1', port: 2222 });
    expect(parseAddress('[::1]:22', true)).toEqual({ host: '::1', port: 22 });
    expect(parseAddress('10.0.0.[1:3]', true)).toEqual({ host: '10.0.0.[1:3]' });
    expect(() => parseAddress('bad_:22', true)).toThrow(/Not a valid network hostname/);
  });

  it('the ASCII hostname pattern accepts exactly what the Unicode one accepts on ASCII names', () => {
    // A seeded walk over short strings of the characters that matter to the grammar.
    const alphabet = 'aZ09_-.[]:x';
    let seed = 7;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    let accepted = 0;
    for (let i = 0; i < 20000; i++) {
      let s = '';
      for (let n = 1 + (next() % 10); n > 0; n--) s += alphabet[next() % alphabet.length];
      const both = [HOSTNAME.test(s), HOSTNAME_ASCII.test(s)];
      if (both[0]) accepted++;
      expect(both, s).toEqual([both[0], both[0]]);
    }
    expect(accepted).toBeGreaterThan(1000);
    // Non-ASCII names keep the Unicode pattern.
    expect(parseAddress('héte.example', true)).toEqual({ host: 'héte.example' });
  });

  it('expands numeric, padded, stepped, alphabetic and nested ranges', () => {
    expect(expandHostnameRange('w[08:11]')).toEqual(['w08', 'w09', 'w10', 'w11']);
    expect(expandHostnameRange('n[1:9:4]')).toEqual(['n1', 'n5', 'n9']);
    expect(expandHostnameRange('db-[x:z]')).toEqual(['db-x', 'db-y', 'db-z']);
    expect(expandHostnameRange('r[1:2][a:b]')).toEqual(['r1a', 'r1b', 'r2a', 'r2b']);
    expect(expandHostnameRange('z[:1]')).toEqual(['z0', 'z1']);
  });
});

describe('pattern splitting', () => {
  it.each([
    ['web:db', ['web', 'db']],
    ['web,db[1:2] , !x', ['web', 'db[1:2]', '!x']],
    ['web[1:2]', ['web[1:2]']],
    ['a:&b:!c', ['a', '&b', '!c']],
    ['a b', ['a', 'b']],
    ['10.0.0.1', ['10.0.0.1']],
  ])('%s', (p, want) => {
    expect(splitHostPattern(p)).toEqual(want);
  });
});

describe('Inventory API', () => {
  const inventoryDir = join(root, 'inv');
  write('inv/hosts', '[web]\nweb1.example.com\n10.1.2.3\n[db]\ndb1\n[prod:children]\nweb\ndb\n');
  write('inv/group_vars/web.yml', 'level: inventory\nport: 80\n');
  write('pb/group_vars/web.yml', 'level: playbook\n');
  write('pb/host_vars/db1.yml', 'from_pb: true\n');

  it('answers magic vars and groups', async () => {
    const inv = await loadInventory({ sources: ['inv/hosts'], cwd: root });
    expect(inv.hostNames()).toEqual(['web1.example.com', '10.1.2.3', 'db1']);
    expect(inv.magicVars('web1.example.com')).toEqual({
      inventory_hostname: 'web1.example.com',
      inventory_hostname_short: 'web1',
      group_names: ['prod', 'web'],
      inventory_file: join(inventoryDir, 'hosts'),
      inventory_dir: inventoryDir,
    });
    expect(inv.magicVars('10.1.2.3').inventory_hostname_short).toBe('10.1.2.3');
    expect(inv.groups()).toEqual({
      all: ['web1.example.com', '10.1.2.3', 'db1'],
      ungrouped: [],
      web: ['web1.example.com', '10.1.2.3'],
      db: ['db1'],
      prod: ['web1.example.com', '10.1.2.3', 'db1'],
    });
    expect(inv.hasHost('db1')).toBe(true);
    expect(inv.hasHost('localhost')).toBe(false);
  });

  it('reads group_vars and host_vars beside the playbook over the inventory ones', async () => {
    const inv = await loadInventory({ sources: ['inv/hosts'], cwd: root });
    expect(inv.hostVars('web1.example.com')).toEqual({ level: 'inventory', port: 80 });
    await inv.setPlaybookDir(join(root, 'pb'));
    expect(inv.hostVars('web1.example.com')).toEqual({ level: 'playbook', port: 80 });
    expect(inv.hostVars('db1')).toEqual({ from_pb: true });
  });

  it('add_host and group_by change selection, groups and vars', async () => {
    const warnings: string[] = [];
    const inv = await loadInventory({ sources: ['inv/hosts'], cwd: root, warn: (m) => warnings.push(m) });
    inv.addHost('new1', ['dynamic', 'web'], { ansible_host: '192.0.2.1' });
    expect(inv.selectHosts('dynamic')).toEqual(['new1']);
    expect(inv.selectHosts('web')).toEqual(['web1.example.com', '10.1.2.3', 'new1']);
    expect(inv.hostVars('new1')).toEqual({ ansible_host: '192.0.2.1', level: 'inventory', port: 80 });
    inv.addGroupMembership('db1', 'os_debian', ['linux']);
    expect(inv.selectHosts('linux')).toEqual(['db1']);
    expect(inv.magicVars('db1').group_names).toEqual(['db', 'linux', 'os_debian', 'prod']);
    expect(inv.selectHosts('nothing:db')).toEqual(['db1']);
    expect(warnings).toEqual(['Could not match supplied host pattern, ignoring: nothing']);
  });

  it('creates the implicit localhost only when asked for by name', async () => {
    const inv = await loadInventory({ sources: ['inv/hosts'], cwd: root });
    expect(inv.selectHosts('all')).not.toContain('localhost');
    expect(inv.selectHosts('localhost')).toEqual(['localhost']);
    expect(inv.hostVars('localhost')).toEqual({
      ansible_connection: 'local',
      ansible_python_interpreter: '/usr/bin/python3',
    });
    expect(inv.hostNames()).not.toContain('localhost');
  });

  it('limits with patterns and retry files', async () => {
    write('retry', 'db1\n10.1.2.3\n');
    const inv = await loadInventory({ sources: ['inv/hosts'], cwd: root });
    expect(inv.selectHosts('prod', { limit: '@retry' })).toEqual(['10.1.2.3', 'db1']);
    expect(inv.selectHosts('prod', { limit: ['web', '!10.*'] })).toEqual(['web1.example.com']);
  });
});
