import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunEvent, TaskRef } from '../../../src/events/types.js';
import { JUnitOutput, xmlAttr, xmlText } from '../../../src/output/junit.js';
import { Redactor } from '../../../src/output/redact.js';

const SECRET = 's3cr3t-Pa55';
const task = (name: string, line: number): TaskRef => ({
  id: `t${line}`,
  name,
  action: 'command',
  pos: { file: '/repo/site.yml', line, col: 7 },
});

function events(): RunEvent[] {
  const t1 = task('install <pkg> & "run"', 5);
  const t2 = task('check', 9);
  return [
    { type: 'run.start', command: 'playbook', check: false, diff: false, time: 1000 },
    {
      type: 'play.start',
      play: { id: 'p1', name: 'web', pos: { file: '/repo/site.yml', line: 1, col: 3 } },
      hosts: ['a', 'b', 'c', 'd'],
      time: 1000,
    },
    { type: 'task.start', task: t1, hosts: ['a', 'b', 'c', 'd'], time: 1000 },
    {
      type: 'host.result',
      host: 'a',
      task: t1,
      status: 'ok',
      result: { changed: false },
      durationMs: 250,
      time: 1250,
    },
    {
      type: 'host.result',
      host: 'b',
      task: t1,
      status: 'failed',
      result: { failed: true, rc: 2, msg: `bad password ${SECRET}\u0000\u001b[31m`, stdout: `pw=${SECRET}` },
      durationMs: 1500,
      time: 2500,
    },
    {
      type: 'host.result',
      host: 'c',
      task: t1,
      status: 'skipped',
      result: { skipped: true, skip_reason: 'Conditional result was False' },
      durationMs: 0,
      time: 2500,
    },
    {
      type: 'host.result',
      host: 'd',
      task: t1,
      status: 'unreachable',
      result: { unreachable: true, msg: 'ssh: connect to host d port 22: Connection refused' },
      durationMs: 10,
      time: 2500,
    },
    { type: 'warning', message: 'w', time: 2500 },
    { type: 'play.end', play: { id: 'p1', name: 'web' }, time: 4000 },
    { type: 'play.start', play: { id: 'p2', name: 'db' }, hosts: ['a'], time: 4000 },
    { type: 'task.start', task: t2, hosts: ['a'], time: 4000 },
    {
      type: 'host.result',
      host: 'a',
      task: t2,
      status: 'changed',
      result: { changed: true },
      durationMs: 5,
      time: 4005,
    },
    { type: 'play.end', play: { id: 'p2', name: 'db' }, time: 4005 },
    { type: 'recap', stats: {}, durationMs: 3005, time: 4005 },
  ];
}

interface El {
  tag: string;
  attrib: Record<string, string>;
  text: string | null;
  children: El[];
}

/** Parses with a real XML parser (Python's expat) so well-formedness is checked, not assumed. */
function parse(xml: string): El {
  const py = `
import sys, json, xml.etree.ElementTree as ET
def conv(e): return {"tag": e.tag, "attrib": e.attrib, "text": e.text, "children": [conv(c) for c in e]}
print(json.dumps(conv(ET.fromstring(sys.stdin.buffer.read()))))
`;
  const r = spawnSync('python3', ['-c', py], { input: xml, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`not well-formed XML: ${r.stderr}`);
  return JSON.parse(r.stdout) as El;
}

async function render(): Promise<string> {
  const redactor = new Redactor();
  redactor.add(SECRET);
  let out = '';
  const j = new JUnitOutput({ redactor, write: (s) => (out += s) });
  for (const e of events()) j.emit(e);
  await j.close();
  return out;
}

describe('JUnitOutput', () => {
  it('writes one suite per play and one case per task and host, with counts', async () => {
    const root = parse(await render());
    expect(root.tag).toBe('testsuites');
    expect(root.attrib).toMatchObject({ tests: '5', failures: '1', errors: '1' });
    expect(root.children.map((s) => s.tag)).toEqual(['testsuite', 'testsuite']);
    const [web, db] = root.children as [El, El];
    expect(web.attrib).toEqual({
      name: 'web',
      tests: '4',
      failures: '1',
      errors: '1',
      skipped: '1',
      time: '3.000',
      file: '/repo/site.yml',
    });
    expect(db.attrib).toMatchObject({
      name: 'db',
      tests: '1',
      failures: '0',
      errors: '0',
      skipped: '0',
      time: '0.005',
    });
    expect(web.children.map((c) => c.attrib.name)).toEqual([
      'install <pkg> & "run" [a]',
      'install <pkg> & "run" [b]',
      'install <pkg> & "run" [c]',
      'install <pkg> & "run" [d]',
    ]);
    const [ok, failed, skipped, unreachable] = web.children as [El, El, El, El];
    expect(ok.attrib).toEqual({
      classname: 'web',
      name: 'install <pkg> & "run" [a]',
      file: '/repo/site.yml',
      line: '5',
      time: '0.250',
    });
    expect(ok.children).toEqual([]);
    expect(failed.attrib.time).toBe('1.500');
    expect(failed.children.map((c) => c.tag)).toEqual(['failure']);
    expect(failed.children[0]?.attrib.message).toBe('bad password ********[31m');
    const body = JSON.parse(failed.children[0]?.text ?? '') as Record<string, unknown>;
    expect(body).toMatchObject({ failed: true, rc: 2, stdout: 'pw=********' });
    expect(skipped.children).toEqual([
      { tag: 'skipped', attrib: { message: 'Conditional result was False' }, text: null, children: [] },
    ]);
    expect(unreachable.children.map((c) => c.tag)).toEqual(['error']);
    expect(unreachable.children[0]?.attrib.message).toBe(
      'ssh: connect to host d port 22: Connection refused',
    );
  });

  it('never writes the secret, in any form', async () => {
    const xml = await render();
    expect(xml).not.toContain(SECRET);
    expect(xml).toContain('********');
  });

  it('drops control characters XML 1.0 forbids and escapes markup', async () => {
    expect(xmlText('a\u0000b\u001bc\u0008d\t\n<&>\uD800e')).toBe('abcd\t\n&lt;&amp;&gt;e');
    expect(xmlAttr('"x"\n\'y\'')).toBe('&quot;x&quot;&#10;&apos;y&apos;');
    expect(xmlText('emoji \u{1F600}')).toBe('emoji \u{1F600}');
    expect(await render()).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  });

  it('writes to the given path on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-junit-'));
    const path = join(dir, 'report.xml');
    const redactor = new Redactor();
    redactor.add(SECRET);
    const j = new JUnitOutput({ redactor, path });
    for (const e of events()) j.emit(e);
    await j.close();
    const xml = readFileSync(path, 'utf8');
    expect(parse(xml).children).toHaveLength(2);
    expect(xml).not.toContain(SECRET);
  });

  it('puts results without a play (ad-hoc) in a suite of their own', () => {
    const j = new JUnitOutput({ redactor: new Redactor() });
    j.emit({
      type: 'host.result',
      host: 'h',
      task: { id: 'x', name: '', action: 'ping' },
      status: 'ok',
      result: {},
      durationMs: 3,
      time: 10,
    });
    const root = parse(j.render());
    expect(root.children[0]?.attrib).toMatchObject({ name: 'drover', tests: '1' });
    expect(root.children[0]?.children[0]?.attrib).toEqual({
      classname: 'drover',
      name: 'ping [h]',
      time: '0.003',
    });
  });

  it('names cases after the templated name task.start reported', () => {
    const j = new JUnitOutput({ redactor: new Redactor() });
    const t = { id: 't1', name: 'deploy {{ app }}', action: 'copy' };
    j.emit({ type: 'task.start', task: { ...t, name: 'deploy web' }, hosts: ['h'], time: 0 });
    j.emit({ type: 'host.result', host: 'h', task: t, status: 'ok', result: {}, durationMs: 1, time: 1 });
    expect(parse(j.render()).children[0]?.children[0]?.attrib.name).toBe('deploy web [h]');
  });
});
