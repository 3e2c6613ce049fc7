import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSinks, maskForDisplay, registerRedactor } from '../../../cli/outputs.js';
import { UsageError } from '../../../src/errors.js';
import type { EventSink, RunEvent } from '../../../src/events/types.js';
import { Redactor } from '../../../src/output/redact.js';

const tmp = mkdtempSync(join(tmpdir(), 'drover-outputs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const human: EventSink = { emit: () => {}, close: async () => {} };
const SECRET = 'outputs-S3cret';

function events(): RunEvent[] {
  const task = { id: 't1', name: 'task', action: 'command', pos: { file: 'site.yml', line: 3, col: 7 } };
  return [
    { type: 'run.start', command: 'playbook', check: false, diff: false, time: 0 },
    { type: 'play.start', play: { id: 'p', name: 'p' }, hosts: ['h'], time: 0 },
    { type: 'task.start', task, hosts: ['h'], time: 0 },
    {
      type: 'host.result',
      host: 'h',
      task,
      status: 'failed',
      result: { failed: true, msg: `bad ${SECRET}` },
      durationMs: 5,
      time: 5,
    },
    { type: 'play.end', play: { id: 'p', name: 'p' }, time: 5 },
    { type: 'recap', stats: {}, durationMs: 5, time: 5 },
  ];
}

describe('--output sinks', () => {
  it('rejects an unknown format before anything runs', () => {
    expect(() => buildSinks(['xml:out.xml'], human, new Redactor())).toThrow(UsageError);
    expect(() => buildSinks(['xml:out.xml'], human, new Redactor())).toThrow(/unknown output format 'xml'/);
  });

  it('writes every format with a path, creating missing directories, with secrets masked', async () => {
    const redactor = new Redactor();
    redactor.add(SECRET);
    const at = (f: string) => join(tmp, 'reports', 'nested', f);
    const specs = ['json', 'summary', 'junit', 'github', 'html'].map((f) => `${f}:${at(`out.${f}`)}`);
    const sinks = buildSinks(specs, human, redactor);
    expect(sinks[0]).toBe(human);
    for (const e of events()) for (const s of sinks) s.emit(e);
    await Promise.all(sinks.map((s) => s.close()));
    for (const f of ['json', 'summary', 'junit', 'github', 'html']) {
      const text = readFileSync(at(`out.${f}`), 'utf8');
      expect(text, f).toContain('bad ********');
      expect(text, f).not.toContain(SECRET);
    }
  });

  it('a format without a path replaces the human output on stdout', () => {
    const sinks = buildSinks(['summary'], human, new Redactor());
    expect(sinks).not.toContain(human);
    expect(existsSync(join(tmp, 'summary'))).toBe(false);
  });

  it('masks text for the error printer with every registered redactor', () => {
    const r = new Redactor();
    r.add('printer-S3cret');
    expect(maskForDisplay('x printer-S3cret y')).toBe('x printer-S3cret y');
    registerRedactor(r);
    expect(maskForDisplay('x printer-S3cret y')).toBe('x ******** y');
  });
});
