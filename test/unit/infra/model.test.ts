/**
 * The pieces under the CLI: reference scanning, the loader's positions, the graph (cycles,
 * order, transitive resource dependencies), state parsing, the local backend's atomic writes.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalBackend } from '../../../src/infra/backends/local.js';
import { loadConfig } from '../../../src/infra/config.js';
import { ConfigGraph } from '../../../src/infra/graph.js';
import { resourceTypes } from '../../../src/infra/providers/index.js';
import { findRefs } from '../../../src/infra/refs.js';
import { emptyState, parseState, serializeState } from '../../../src/infra/state.js';

const root = mkdtempSync(join(tmpdir(), 'drover-infra-model-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const types = resourceTypes();

function load(name: string, files: Record<string, string>) {
  const dir = join(root, name);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  const { root: mod, problems } = loadConfig(dir, { types });
  const graph = new ConfigGraph(mod, (n) => types.managed.has(n));
  graph.link(problems);
  return { mod, problems, graph };
}

describe('references', () => {
  const isType = (n: string) => n === 'machine' || n === 'local_file';
  it('finds every kind, ignores string literals and loop variables', () => {
    const refs = findRefs(
      [
        '{{ machine.web[0].address }}:{{ var.port }}',
        '{% for h in machine.web %}{{ h.address }}{% endfor %}',
        { x: '{{ module.net.id ~ local.sep ~ data.local_file.seed.content }}' },
        "{{ 'machine.fake' }} {{ count.index }} {{ each.key }}",
      ],
      isType,
    ).map((r) => r.key);
    expect(refs).toEqual([
      'machine.web',
      'var.port',
      'machine.web',
      'module.net.id',
      'local.sep',
      'data.local_file.seed',
      'count',
      'each',
    ]);
  });
});

describe('loader and graph', () => {
  it('positions, expansion metadata and lifecycle', () => {
    const { mod, problems } = load('ok', {
      'main.infra.yml': `resources:
  local_file:
    a:
      count: 2
      filename: "a{{ count.index }}"
      content: x
      lifecycle: {create_before_destroy: true, ignore_changes: [content]}
`,
    });
    expect(problems.errors).toEqual([]);
    const r = mod.resources.get('local_file.a')!;
    expect(r.pos).toMatchObject({ line: 3, col: 5 });
    expect(r.attrPos.filename).toMatchObject({ line: 5, col: 17 });
    expect(r.count).toBe(2);
    expect(r.lifecycle).toEqual({
      createBeforeDestroy: true,
      preventDestroy: false,
      ignoreChanges: ['content'],
      replaceTriggeredBy: [],
    });
  });

  it('reports every problem of every file in one pass', () => {
    const { problems } = load('many', {
      'a.infra.yml': 'resources:\n  local_file:\n    a: {filenme: x}\n',
      'b.infra.yml': 'outputs:\n  o: {value: "{{ var.nope }}"}\n',
    });
    expect(
      problems.errors.map((p) => `${p.pos?.file.split('/').pop()}:${p.pos?.line}: ${p.message}`),
    ).toEqual([
      "a.infra.yml:3: unknown attribute 'filenme' in local_file.a",
      "a.infra.yml:3: local_file.a: missing required attribute 'filename'",
      "b.infra.yml:2: output 'o': reference to undefined variable 'var.nope'",
    ]);
  });

  it('orders dependencies first, sees through locals and modules, and prints cycles', () => {
    const { graph, problems } = load('graph', {
      'main.infra.yml': `locals:
  name: "{{ random_pet.p.id }}"
modules:
  m: {source: ./m, inputs: {v: "{{ local.name }}"}}
resources:
  random_pet:
    p: {}
  local_file:
    top: {filename: "{{ module.m.out }}", content: x}
`,
      'm/m.infra.yml': `variables:
  v: {type: string}
resources:
  local_file:
    inner: {filename: "{{ var.v }}", content: y}
outputs:
  out: {value: "{{ local_file.inner.filename }}"}
`,
    });
    expect(problems.errors).toEqual([]);
    expect(graph.findCycle()).toBeUndefined();
    expect([...graph.resourceDeps('local_file.top')]).toEqual(['module.m.local_file.inner']);
    expect([...graph.resourceDeps('module.m.local_file.inner')]).toEqual(['random_pet.p']);
    const order = graph.topo();
    expect(order.indexOf('random_pet.p')).toBeLessThan(order.indexOf('module.m.local_file.inner'));
    expect(order.indexOf('module.m.local_file.inner')).toBeLessThan(order.indexOf('local_file.top'));

    const cyc = load('cycle', {
      'main.infra.yml': `resources:
  local_file:
    a: {filename: "{{ local_file.b.id }}", content: x}
    b: {filename: b, content: x, depends_on: [local_file.a]}
`,
    });
    expect(cyc.graph.findCycle()).toEqual(['local_file.a', 'local_file.b', 'local_file.a']);
  });
});

describe('state', () => {
  it('round-trips and rejects what it cannot read', () => {
    const s = emptyState();
    expect(parseState(serializeState(s), 'x')).toEqual(s);
    expect(() => parseState('{"format_version": 1', 'f')).toThrow(/f: state is not valid JSON/);
    expect(() =>
      parseState('{"format_version": 9, "serial": 1, "lineage": "l", "resources": []}', 'f'),
    ).toThrow(/newer than this drover/);
    expect(() => parseState('{"hello": 1}', 'f')).toThrow(/not a drover state document/);
  });

  it('the local backend keeps the previous version as backup and leaves no temp files', async () => {
    const dir = join(root, 'backend');
    const b = createLocalBackend(dir);
    await b.init();
    expect(await b.read()).toBeUndefined();
    await b.write('{"v":1}');
    await b.write('{"v":2}');
    expect(await b.read()).toBe('{"v":2}');
    expect(readFileSync(join(dir, 'drover.tfstate.json.backup'), 'utf8')).toBe('{"v":1}');
    expect(readdirSync(dir).sort()).toEqual(['drover.tfstate.json', 'drover.tfstate.json.backup']);
    const id = await b.lock({ operation: 'apply', who: 'me@here', created: 'now', version: 'v' }, 0);
    await expect(
      b.lock({ operation: 'plan', who: 'you@there', created: 'now', version: 'v' }, 0),
    ).rejects.toMatchObject({
      holder: { id, operation: 'apply', who: 'me@here' },
    });
    await b.unlock(id);
    expect(await b.lockInfo()).toBeUndefined();
  });
});
