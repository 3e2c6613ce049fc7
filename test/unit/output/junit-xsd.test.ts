import { describe, expect, it } from 'vitest';
import type { HostStatus, RunEvent, TaskRef } from '../../../src/events/types.js';
import { JUnitOutput } from '../../../src/output/junit.js';
import { Redactor } from '../../../src/output/redact.js';
import { validateJUnit } from './junit-schema.js';

const task = (name: string, line: number): TaskRef => ({
  id: `t${line}`,
  name,
  action: 'command',
  pos: { file: 'site.yml', line, col: 7 },
});

/** One host per status, plus a delegated result, control characters and markup in messages. */
function render(): string {
  const t = task('install <pkg> & "run"', 5);
  const hosts: [string, HostStatus, Record<string, unknown>][] = [
    ['ok1', 'ok', {}],
    ['changed1', 'changed', { changed: true, diff: { before: 'a\n', after: 'b\n' } }],
    ['failed1', 'failed', { failed: true, rc: 2, msg: 'exit 2 \u001b[31m<boom>\u0000', stdout: ']]> &' }],
    ['skipped1', 'skipped', { skipped: true, skip_reason: 'Conditional result was False' }],
    [
      'down1',
      'unreachable',
      { unreachable: true, msg: 'ssh: connect to host down1 port 22: Connection refused' },
    ],
    ['ignored1', 'ignored', { failed: true, msg: 'ignored' }],
    ['rescued1', 'rescued', { failed: true, msg: 'rescued' }],
  ];
  const events: RunEvent[] = [
    { type: 'run.start', command: 'playbook', check: false, diff: true, time: 0 },
    { type: 'play.start', play: { id: 'p', name: 'all <hosts>' }, hosts: hosts.map((h) => h[0]), time: 0 },
    { type: 'task.start', task: t, hosts: hosts.map((h) => h[0]), time: 0 },
    ...hosts.map(
      ([host, status, result], i): RunEvent => ({
        type: 'host.result',
        host,
        task: t,
        status,
        result,
        durationMs: 10 * i,
        time: 10 * i,
        ...(i === 0 ? { delegatedTo: 'localhost' } : {}),
      }),
    ),
    { type: 'play.end', play: { id: 'p', name: 'all <hosts>' }, time: 100 },
    { type: 'recap', stats: {}, durationMs: 100, time: 100 },
  ];
  const j = new JUnitOutput({ redactor: new Redactor() });
  for (const e of events) j.emit(e);
  return j.render();
}

describe('JUnit output against the Jenkins JUnit XSD (xmllint --schema)', () => {
  it('validates for a run with ok, changed, failed, skipped, unreachable, ignored and rescued hosts', () => {
    const xml = render();
    for (const tag of ['<failure', '<error', '<skipped']) expect(xml).toContain(tag);
    const v = validateJUnit(xml);
    expect(v.valid, v.output).toBe(true);
    expect(v.output).toContain('validates');
  });

  it('the schema rejects what it should (the check can fail)', () => {
    const bad = render().replace(/<testcase classname="([^"]*)" name="[^"]*"/, '<testcase classname="$1"');
    const v = validateJUnit(bad);
    expect(v.valid).toBe(false);
    expect(v.output).toMatch(/name.*required|required.*name/i);
    expect(validateJUnit(render().replace('<testsuites ', '<testsuitez ')).valid).toBe(false);
  });
});
