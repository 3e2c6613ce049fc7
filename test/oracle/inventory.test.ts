/**
 * Every fixture in test/fixtures/inventory is read by drover and by ansible-core 2.14
 * (`ansible-inventory --list`, `--host H`, `ansible PATTERN --list-hosts`); the results
 * must be equal as JSON, host lists equal in order, unmatched-pattern warnings equal.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { inventoryCommand } from '../../cli/inventory.js';
import { expandHostnameRange, parseAddress } from '../../src/inventory/address.js';
import { loadInventory } from '../../src/inventory/inventory.js';
import { pythonLiteral } from '../../src/inventory/literal.js';
import { inventoryHost, inventoryList } from '../../src/inventory/output.js';
import { splitHostPattern } from '../../src/inventory/pattern.js';
import { Keyring } from '../../src/vault/index.js';

interface Case {
  sources: string[];
  hosts?: string[];
  patterns?: string[];
  limits?: [string, string][];
  playbookDir?: string;
  vaultPassword?: string;
  /** Patterns whose host order Ansible leaves to Python set iteration: compared as sets. */
  setOrder?: string[];
  /** Also compare `--graph [--vars]` text and `--list --export` through the drover CLI command. */
  cliChecks?: boolean;
}

interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

const FIXTURES = join(import.meta.dirname, '../fixtures/inventory');
// DROVER_INV_FIXTURE=name runs one fixture (while debugging a difference).
const names = readdirSync(FIXTURES)
  .sort()
  .filter((n) => !process.env.DROVER_INV_FIXTURE || n === process.env.DROVER_INV_FIXTURE);
// The example inventories users copy (inventories/*) are checked the same way.
const EXAMPLES: Record<string, Case> = {
  'example-local': { sources: ['inv'], hosts: ['h03'], patterns: ['lab', 'web:db', 'lab[-1]'] },
  'example-staging': {
    sources: ['inv'],
    hosts: ['bastion.staging.example.com', 'db01.staging.example.com'],
    patterns: ['app', 'all:!bastion', 'web[1]'],
  },
  'example-production': {
    sources: ['inv'],
    hosts: ['web-eu-01.prod.example.com', 'db-us-a.prod.example.com'],
    patterns: ['eu:&web', 'canary', 'db:!eu', 'web_us[0:1]', '~db-(eu|us)-a'],
    // Regions and roles both nest groups under top groups: Ansible's order of `all` here
    // comes from Python set iteration (see docs/inventory.md), so only membership is compared.
    setOrder: ['all', '*'],
  },
};
const exampleNames = Object.keys(EXAMPLES).filter(
  (n) => !process.env.DROVER_INV_FIXTURE || n === process.env.DROVER_INV_FIXTURE,
);
const work = mkdtempSync(join(tmpdir(), 'drover-inv-oracle-'));
const env = {
  ...process.env,
  ANSIBLE_INVENTORY_ENABLED: 'host_list,script,auto,yaml,ini,toml',
  ANSIBLE_LOCALHOST_WARNING: 'False',
  ANSIBLE_NOCOLOR: '1',
  COLUMNS: '100000', // Ansible wraps warnings at the terminal width
  ANSIBLE_DEPRECATION_WARNINGS: 'False',
  ANSIBLE_HOME: join(work, '.ansible'),
  ANSIBLE_CONFIG: join(work, 'none.cfg'),
};

// Two cores: a few ansible processes at a time keeps the machine responsive and the suite fast.
let running = 0;
const waiting: (() => void)[] = [];
async function ansible(cmd: string, args: string[], cwd: string): Promise<Run> {
  if (running >= 4) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await new Promise((resolve) => {
      execFile(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : 1) : 0 });
      });
    });
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/**
 * Ansible's own pattern code in one Python process per fixture: the same calls `ansible
 * PATTERN --list-hosts [--limit L]` makes (subset, then list_hosts), on a fresh
 * InventoryManager per pattern, with the warnings it displays. A few patterns per fixture
 * also go through the real `ansible` CLI to keep this harness honest.
 */
const PATTERN_HARNESS = `
import json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
from ansible.utils.display import Display
warnings = []
Display.warning = lambda self, msg, formatted=False: warnings.append(msg)
from ansible.parsing.vault import VaultSecret
spec = json.loads(sys.argv[1])
out = []
for pattern, limit in spec['runs']:
    loader = DataLoader()
    if spec.get('vaultPassword'):
        loader.set_vault_secrets([('default', VaultSecret(spec['vaultPassword'].encode()))])
    inv = InventoryManager(loader=loader, sources=spec['sources'])
    warnings.clear()
    try:
        inv.subset(limit)
        hosts = [h if isinstance(h, str) else h.name for h in inv.list_hosts(pattern)]
        out.append({'hosts': hosts, 'warnings': list(warnings)})
    except Exception as e:
        out.append({'error': str(e), 'warnings': list(warnings)})
# Magic variables and the groups dict, from Ansible's VariableManager.
from ansible.vars.manager import VariableManager
loader = DataLoader()
if spec.get('vaultPassword'):
    loader.set_vault_secrets([('default', VaultSecret(spec['vaultPassword'].encode()))])
inv = InventoryManager(loader=loader, sources=spec['sources'])
vm = VariableManager(loader=loader, inventory=inv)
magic = {}
for h in spec['hosts']:
    v = vm.get_vars(host=inv.get_host(h), include_hostvars=False)
    magic[h] = {k: v[k] for k in ('inventory_hostname', 'inventory_hostname_short', 'group_names', 'inventory_dir', 'inventory_file') if k in v}
print(json.dumps({'patterns': out, 'magic': magic, 'groups': inv.get_groups_dict()}))
`;

function listedHosts(out: string): string[] {
  const lines = out.split('\n');
  const start = lines.findIndex((l) => /^\s*hosts \(\d+\):$/.test(l));
  if (start < 0) return [];
  return lines
    .slice(start + 1)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

function unmatchedWarnings(stderr: string): string[] {
  const found = stderr.match(/Could not match supplied host pattern, ignoring: \S+/g) ?? [];
  return [...new Set(found)].sort();
}

/** Load-time warnings, compared without whitespace (Ansible wraps them, even inside paths at '-'), Python type names blurred. */
function loadWarnings(lines: string[]): string[] {
  return lines
    .filter((l) => !l.startsWith('Could not match supplied host pattern'))
    .map((l) => l.replace(/it is a .*$/, 'it is a <type>').replace(/\s+/g, ''))
    .sort();
}

function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

interface PatternAnswer {
  hosts?: string[];
  error?: string;
  warnings: string[];
}

interface Oracle {
  list: Run;
  hosts: Map<string, Run>;
  /** From the Python harness: every pattern. */
  patterns: Map<string, PatternAnswer>;
  /** From the `ansible` CLI: a few patterns. */
  cli: Map<string, Run>;
  /** From the Python harness: magic vars of case.hosts and the `groups` variable. */
  magic: Record<string, Record<string, unknown>>;
  groupsDict: Record<string, string[]>;
  graph?: Run;
  graphVars?: Run;
  exportList?: Run;
  yamlList?: Run;
}

const oracles = new Map<string, Promise<Oracle>>();
const cases = new Map<string, Case>();

function ansibleArgs(c: Case, dir: string): string[] {
  const args = c.sources.flatMap((s) => ['-i', s]);
  if (c.playbookDir) args.push('--playbook-dir', c.playbookDir);
  if (c.vaultPassword) {
    writeFileSync(join(dir, '.vault-pass'), `${c.vaultPassword}\n`);
    args.push('--vault-password-file', '.vault-pass');
  }
  return args;
}

function patternKey(pattern: string, limit?: string): string {
  return limit === undefined ? pattern : `${pattern} --limit ${limit}`;
}

function patternRuns(c: Case): [string, string | undefined][] {
  return [
    ...[...new Set(['all', '*', 'ungrouped', 'localhost', ...(c.patterns ?? [])])].map(
      (p) => [p, undefined] as [string, undefined],
    ),
    ...(c.limits ?? []),
  ];
}

beforeAll(() => {
  writeFileSync(join(work, 'none.cfg'), '[defaults]\n');
  writeFileSync(join(work, 'patterns.py'), PATTERN_HARNESS);
  for (const name of [...names, ...exampleNames]) {
    const example = EXAMPLES[name];
    const c = example ?? (JSON.parse(readFileSync(join(FIXTURES, name, 'case.json'), 'utf8')) as Case);
    cases.set(name, c);
    const dir = join(work, name);
    if (example)
      cpSync(
        join(import.meta.dirname, '../../inventories', name.slice('example-'.length)),
        join(dir, 'inv'),
        { recursive: true },
      );
    else cpSync(join(FIXTURES, name), dir, { recursive: true });
    const base = ansibleArgs(c, dir);
    const listP = ansible('ansible-inventory', [...base, '--list'], dir);
    // --list already holds every inventory host's vars; --host runs for the first listed host
    // and for names --list cannot show (the implicit localhost).
    const hostPs = (c.hosts ?? [])
      .filter((h, i) => i === 0 || ['localhost', '127.0.0.1', '::1'].includes(h))
      .map(async (h) => [h, await ansible('ansible-inventory', [...base, '--host', h], dir)] as const);
    const runs = patternRuns(c);
    const graphP = c.cliChecks ? ansible('ansible-inventory', [...base, '--graph'], dir) : undefined;
    const graphVarsP = c.cliChecks
      ? ansible('ansible-inventory', [...base, '--graph', '--vars'], dir)
      : undefined;
    const yamlP = c.cliChecks ? ansible('ansible-inventory', [...base, '--list', '--yaml'], dir) : undefined;
    const exportP = c.cliChecks
      ? ansible('ansible-inventory', [...base, '--list', '--export'], dir)
      : undefined;
    const harnessP = ansible(
      '/usr/bin/python3',
      [
        join(work, 'patterns.py'),
        JSON.stringify({ sources: c.sources, runs, vaultPassword: c.vaultPassword, hosts: c.hosts ?? [] }),
      ],
      dir,
    );
    const adhocBase = base.filter((a) => a !== '--playbook-dir' && a !== c.playbookDir);
    const cliPs = runs
      .filter(([p, l]) => l === undefined && (p === 'all' || p === c.patterns?.[0]))
      .map(async ([p]) => [p, await ansible('ansible', [p, ...adhocBase, '--list-hosts'], dir)] as const);
    oracles.set(
      name,
      (async () => ({
        list: await listP,
        hosts: new Map(await Promise.all(hostPs)),
        ...(await harnessP.then((r) => {
          if (r.code !== 0) throw new Error(`pattern harness failed: ${r.stderr}`);
          const answers = JSON.parse(r.stdout) as {
            patterns: PatternAnswer[];
            magic: Record<string, Record<string, unknown>>;
            groups: Record<string, string[]>;
          };
          return {
            patterns: new Map(runs.map(([p, l], i) => [patternKey(p, l), answers.patterns[i]!])),
            magic: answers.magic,
            groupsDict: answers.groups,
          };
        })),
        cli: new Map(await Promise.all(cliPs)),
        ...(c.cliChecks
          ? {
              graph: await graphP,
              graphVars: await graphVarsP,
              exportList: await exportP,
              yamlList: await yamlP,
            }
          : {}),
      }))(),
    );
  }
});

afterAll(async () => {
  await Promise.allSettled(oracles.values());
  rmSync(work, { recursive: true, force: true });
});

describe('inventory matches ansible-inventory 2.14', () => {
  it('has at least 25 fixtures', () => {
    if (!process.env.DROVER_INV_FIXTURE) expect(names.length).toBeGreaterThanOrEqual(25);
  });

  for (const name of [...names, ...exampleNames]) {
    it(name, async () => {
      const c = cases.get(name)!;
      const dir = join(work, name);
      const oracle = await oracles.get(name)!;
      expect(oracle.list.code, `ansible-inventory --list failed:\n${oracle.list.stderr}`).toBe(0);
      const warnings: string[] = [];
      const keyring = c.vaultPassword
        ? new Keyring([{ id: 'default', password: Buffer.from(c.vaultPassword) }])
        : undefined;
      const inv = await loadInventory({
        sources: c.sources,
        cwd: dir,
        warn: (m) => warnings.push(m),
        ...(c.playbookDir ? { playbookDir: c.playbookDir } : {}),
        ...(keyring
          ? { decryptVault: (text: string, where: string) => keyring.decryptText(text, where) }
          : {}),
      });
      expect(plain(inventoryList(inv)), '--list').toEqual(JSON.parse(oracle.list.stdout));
      // Ansible wraps warnings at 80 columns whatever COLUMNS says: unwrap them.
      const ansibleWarnings = oracle.list.stderr
        .split(/\n(?=\[WARNING\]: )/)
        .filter((l) => l.startsWith('[WARNING]: '))
        .map((l) => l.slice('[WARNING]: '.length).replace(/\n/g, ' ').trim());
      expect(loadWarnings(warnings), 'load warnings').toEqual(loadWarnings(ansibleWarnings));

      for (const [host, theirs] of Object.entries(oracle.magic)) {
        expect(plain(inv.magicVars(host)), `magic vars of ${host}`).toEqual(theirs);
      }
      const ourGroups = inv.groups();
      const sortedIf = (g: string, hosts: string[]): string[] =>
        c.setOrder?.includes(g) ? [...hosts].sort() : hosts;
      expect(
        Object.fromEntries(Object.entries(ourGroups).map(([g, hs]) => [g, sortedIf(g, hs)])),
        'the groups variable',
      ).toEqual(Object.fromEntries(Object.entries(oracle.groupsDict).map(([g, hs]) => [g, sortedIf(g, hs)])));

      for (const [host, run] of oracle.hosts) {
        expect(run.code, `ansible-inventory --host ${host}: ${run.stderr}`).toBe(0);
        expect(plain(inventoryHost(inv, host)), `--host ${host}`).toEqual(JSON.parse(run.stdout));
      }

      for (const [pattern, limit] of patternRuns(c)) {
        const key = patternKey(pattern, limit);
        const theirs = oracle.patterns.get(key)!;
        warnings.length = 0;
        let ours: string[] | undefined;
        let ourError: string | undefined;
        try {
          ours = inv.listHosts(pattern, limit === undefined ? {} : { limit });
        } catch (e) {
          ourError = (e as Error).message;
        }
        if (theirs.error !== undefined || ourError !== undefined) {
          expect(ourError, `pattern ${key}: ansible says ${theirs.error}`).toBeDefined();
          expect(theirs.error, `pattern ${key}: drover says ${ourError}`).toBeDefined();
          continue;
        }
        if (c.setOrder?.includes(key)) {
          // Ansible orders sibling subtrees below depth 1 by Python set iteration (object addresses).
          expect([...ours!].sort(), `pattern ${key} (as a set)`).toEqual([...theirs.hosts!].sort());
        } else {
          expect(ours, `pattern ${key}`).toEqual(theirs.hosts);
        }
        expect(unmatchedWarnings(warnings.join('\n')), `warnings for ${key}`).toEqual(
          unmatchedWarnings(theirs.warnings.join('\n')),
        );
      }

      if (c.cliChecks) {
        const drover = async (args: string[]): Promise<string> => {
          let out = '';
          const cmd = inventoryCommand({ write: (t) => (out += t), warn: () => {} });
          const cwd = process.cwd();
          process.chdir(dir);
          try {
            await cmd.parseAsync([...c.sources.flatMap((s) => ['-i', s]), ...args], { from: 'user' });
          } finally {
            process.chdir(cwd);
          }
          return out;
        };
        expect(await drover(['--graph']), '--graph').toBe(oracle.graph!.stdout.trimEnd());
        expect(await drover(['--graph', '--vars']), '--graph --vars').toBe(
          oracle.graphVars!.stdout.trimEnd(),
        );
        expect(JSON.parse(await drover(['--list', '--export'])), '--list --export').toEqual(
          JSON.parse(oracle.exportList!.stdout),
        );
        expect(YAML.parse(await drover(['--list', '--yaml'])), '--list --yaml').toEqual(
          YAML.parse(oracle.yamlList!.stdout),
        );
      }

      for (const [pattern, run] of oracle.cli) {
        const harness = oracle.patterns.get(pattern)!;
        const cliHosts = listedHosts(run.stdout);
        if (harness.hosts && harness.hosts.length > 0) {
          // Set-ordered patterns even differ between two Ansible processes: compare membership.
          if (c.setOrder?.includes(pattern))
            expect([...cliHosts].sort(), `ansible ${pattern}`).toEqual([...harness.hosts].sort());
          else expect(cliHosts, `ansible ${pattern} --list-hosts`).toEqual(harness.hosts);
        }
        expect(unmatchedWarnings(run.stderr), `ansible ${pattern} warnings`).toEqual(
          unmatchedWarnings(harness.warnings.join('\n')),
        );
      }
    });
  }
});

describe('INI value typing matches Python ast.literal_eval', () => {
  const fixed = [
    '80',
    '-5',
    '+7',
    '0x1F',
    '0o17',
    '0b101',
    '1_000',
    '1.5',
    '.5',
    '5.',
    '2e3',
    '1E-2',
    '1_0.5',
    '010',
    '00',
    '0',
    '-0',
    'True',
    'False',
    'None',
    'true',
    'yes',
    'no',
    'null',
    'none',
    'inf',
    'nan',
    '1j',
    '1+2j',
    '{1, 2}',
    'set()',
    "'single'",
    '"double"',
    "'a' 'b'",
    `"a" 'b'`,
    "r'raw\\n'",
    "b'bytes'",
    "u'uni'",
    "'esc\\n\\t\\x41\\u00e9'",
    "'''triple'''",
    "'unterminated",
    '[1, 2]',
    '[1, [2, [3]]]',
    '[]',
    '[1,]',
    '(1)',
    '(1,)',
    '()',
    '1,2',
    '1, 2,',
    '(1, 2)',
    "{'a': 1}",
    '{"a": [1, {"b": None}]}',
    '{}',
    "{1: 'one', True: 't', None: 'n'}",
    "{'a': 1,}",
    '[1 2]',
    '{"a"}',
    'hello world',
    'a=b',
    '42 # comment',
    '# only comment',
    '',
    ' ',
    '  42',
    '42  ',
    '\t42',
    '-',
    '--1',
    '-(1)',
    '-True',
    '1 + 1',
    '2 - 1',
    '"a" + "b"',
    'x',
    '[x]',
    '{"k": v}',
    '1.2.3',
    '192.168.0.1',
    '1e',
    '0x',
    '1__0',
    '_1',
    '1_',
    '"caf\\u00e9"',
    "'日本'",
    '日本',
    '$HOME',
    '{{ var }}',
    "'{{ var }}'",
    '[1, 2',
    '{"a": 1',
    ')',
    ']',
    '0777',
    '0o',
  ];
  const atoms = ['1', '-2', '0x10', '1.5', 'True', 'None', "'s'", '"t"', 'word', '[]', '{}', '()'];
  let seed = 42;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const build = (depth: number): string => {
    const r = rnd();
    if (depth > 2 || r < 0.45) return atoms[Math.floor(rnd() * atoms.length)]!;
    const n = Math.floor(rnd() * 3);
    const items = Array.from({ length: n }, () => build(depth + 1));
    if (r < 0.65) return `[${items.join(', ')}]`;
    if (r < 0.8) return `(${items.join(', ')}${n === 1 ? ',' : ''})`;
    if (r < 0.95) return `{${items.map((v, i) => `'k${i}': ${v}`).join(', ')}}`;
    return items.join(' ');
  };
  const values = [...fixed, ...Array.from({ length: 1000 }, () => build(0))];

  it(`agrees on ${values.length} values`, async () => {
    const py = [
      'import ast, json, sys',
      'out = []',
      'for v in json.loads(sys.stdin.read()):',
      '    try:',
      '        r = ast.literal_eval(v)',
      '    except Exception:',
      "        out.append({'ok': False}); continue",
      '    if isinstance(r, bytes):',
      '        r = r.decode()',
      '    try:',
      "        out.append({'ok': True, 'v': json.loads(json.dumps(r))})",
      '    except Exception:',
      "        out.append({'ok': False, 'nojson': True})",
      'print(json.dumps(out))',
    ].join('\n');
    const answers = await new Promise<{ ok: boolean; v?: unknown }[]>((resolve, reject) => {
      const child = execFile('/usr/bin/python3', ['-c', py], (err, stdout, stderr) =>
        err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout)),
      );
      child.stdin!.end(JSON.stringify(values));
    });
    const mismatches: string[] = [];
    values.forEach((v, i) => {
      const ours = pythonLiteral(v);
      const theirs = answers[i]!;
      const same =
        ours.ok === theirs.ok && (!ours.ok || JSON.stringify(ours.value) === JSON.stringify(theirs.v));
      if (!same)
        mismatches.push(
          `${JSON.stringify(v)}: drover ${JSON.stringify(ours)} python ${JSON.stringify(theirs)}`,
        );
    });
    expect(mismatches).toEqual([]);
  });
});

describe('addresses, ranges and pattern splitting match Ansible', () => {
  const addresses = [
    'web1',
    'web1:22',
    'web1.example.com:2222',
    '10.0.0.1',
    '10.0.0.1:22',
    '10.0.0.[1:3]',
    '10.0.[0:1].[1:2]:22',
    '[::1]:22',
    '::1',
    'fe80::1',
    '2001:db8::[a:f]',
    '[2001:db8::1]:443',
    'web[01:10].example.com',
    'db-[a:c]',
    'db-[a:c]:5432',
    'x[1:10:3]',
    'bad_',
    'bad_:22',
    '-bad',
    'trailing:',
    'a:b:c',
    'héllo.example.com',
    '東京',
    'h[1:2][a:b]',
    'web[1:]',
    'web[:3]',
    'w[a-c]',
    'under_score',
    'a..b',
    '.',
    '',
    '[web]:22',
    '[10.0.0.1]:22',
    'host:0',
    'host:99999',
    'UPPER[A:C]',
    'mixed[a:C]',
    'h[08:11]',
    'h[1:3:0]',
  ];
  const ranges = [
    'w[01:05]',
    'w[1:5]',
    'n[1:10:3]',
    'x[a:e]',
    'x[a:e:2]',
    'x[A:C]',
    'x[y:B]',
    'x[ab:cd]',
    'r[1:2]-[a:b]',
    'z[:2]',
    'z[0:0]',
    'p[10:8]',
    'q[08:11]',
    'q[8:011]',
    'q[01:5]',
    'q[1:]',
    'q[a:3]',
    'q[1:5:0]',
    'q[1:5:-1]',
    'q[1]',
    'q[1:2:3:4]',
    'w[z:a]',
    'w[1_0:1_2]',
    'w[ 1:3]',
  ];
  const patterns = [
    'all',
    'web:db',
    'web,db',
    'web db',
    'web:&db:!x',
    'web[0]',
    'web[1:3]',
    'web[-1]',
    'web[0]:db[1:]',
    '10.0.0.1',
    '10.0.0.1:22',
    '::1',
    'web*:~db.*',
    ' web , db ',
    'a,,b',
    'web[1:3]:db',
    '[web]',
    'w[a:b]',
    '~(a|b):c',
    '&x,!y',
  ];

  it(`agrees on ${addresses.length + ranges.length + patterns.length} inputs`, async () => {
    const py = [
      'import json, sys',
      'from ansible.parsing.utils.addresses import parse_address',
      'from ansible.plugins.inventory import expand_hostname_range',
      'from ansible.inventory.manager import split_host_pattern',
      'spec = json.loads(sys.stdin.read())',
      'def call(f, *a):',
      '    try:',
      '        return {"ok": f(*a)}',
      '    except Exception as e:',
      '        return {"error": True}',
      'print(json.dumps({',
      '  "addresses": [call(lambda a: list(parse_address(a, allow_ranges=True)), a) for a in spec["addresses"]],',
      '  "ranges": [call(expand_hostname_range, r) for r in spec["ranges"]],',
      '  "patterns": [call(split_host_pattern, p) for p in spec["patterns"]],',
      '}))',
    ].join('\n');
    const theirs = await new Promise<Record<string, { ok?: unknown; error?: boolean }[]>>(
      (resolve, reject) => {
        const child = execFile('/usr/bin/python3', ['-c', py], (err, stdout, stderr) =>
          err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout)),
        );
        child.stdin!.end(JSON.stringify({ addresses, ranges, patterns }));
      },
    );
    const ours = (f: () => unknown): { ok?: unknown; error?: boolean } => {
      try {
        return { ok: f() };
      } catch {
        return { error: true };
      }
    };
    const mismatches: string[] = [];
    const check = (kind: string, inputs: string[], f: (s: string) => unknown): void => {
      inputs.forEach((input, i) => {
        const a = ours(() => f(input));
        const b = theirs[kind]![i]!;
        if (JSON.stringify(a) !== JSON.stringify(b))
          mismatches.push(
            `${kind} ${JSON.stringify(input)}: drover ${JSON.stringify(a)} ansible ${JSON.stringify(b)}`,
          );
      });
    };
    check('addresses', addresses, (a) => {
      const r = parseAddress(a, true);
      return [r.host, r.port ?? null];
    });
    check('ranges', ranges, (r) => expandHostnameRange(r));
    check('patterns', patterns, (p) => splitHostPattern(p));
    expect(mismatches).toEqual([]);
  });
});
