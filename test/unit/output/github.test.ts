import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunEvent, TaskRef } from '../../../src/events/types.js';
import { escapeData, escapeProperty, GithubOutput } from '../../../src/output/github.js';
import { Redactor } from '../../../src/output/redact.js';

const SECRET = 'tok-9f8e7d';
const t: TaskRef = {
  id: 't1',
  name: 'deploy: app, v2',
  action: 'shell',
  pos: { file: '/repo/plays/site.yml', line: 12, col: 7 },
};

const events: RunEvent[] = [
  { type: 'play.start', play: { id: 'p', name: 'all' }, hosts: ['a', 'b', 'c', 'd'], time: 0 },
  { type: 'task.start', task: t, hosts: ['a', 'b', 'c', 'd'], time: 0 },
  { type: 'host.result', host: 'a', task: t, status: 'ok', result: {}, durationMs: 1, time: 1 },
  {
    type: 'host.result',
    host: 'b',
    task: t,
    status: 'failed',
    result: { failed: true, msg: `100% broken\r\nauth ${SECRET} refused` },
    durationMs: 1,
    time: 1,
  },
  { type: 'host.result', host: 'c', task: t, status: 'skipped', result: {}, durationMs: 0, time: 1 },
  {
    type: 'host.result',
    host: 'd',
    task: t,
    status: 'unreachable',
    result: { unreachable: true, msg: 'Connection refused' },
    durationMs: 1,
    time: 1,
  },
  {
    type: 'host.result',
    host: 'e',
    task: t,
    status: 'ignored',
    result: { failed: true, msg: 'x' },
    durationMs: 1,
    time: 1,
  },
  {
    type: 'warning',
    message: `value ${SECRET} looks odd`,
    pos: { file: '/elsewhere/x.yml', line: 3, col: 1 },
    time: 2,
  },
  { type: 'warning', message: 'no position', time: 2 },
  { type: 'recap', stats: {}, durationMs: 2, time: 2 },
];

function run(): string {
  const redactor = new Redactor();
  redactor.add(SECRET);
  let out = '';
  const g = new GithubOutput({ redactor, cwd: '/repo', write: (s) => (out += s) });
  for (const e of events) g.emit(e);
  return out;
}

describe('GithubOutput', () => {
  it('annotates failed and unreachable results and warnings, escaped, secrets masked', () => {
    expect(run().split('\n')).toEqual([
      '::error file=plays/site.yml,line=12,col=7,title=deploy%3A app%2C v2::b: 100%25 broken%0D%0Aauth ******** refused',
      '::error file=plays/site.yml,line=12,col=7,title=deploy%3A app%2C v2::d: UNREACHABLE: Connection refused',
      '::warning file=/elsewhere/x.yml,line=3,col=1::value ******** looks odd',
      '::warning::no position',
      '',
    ]);
  });

  it('never writes the secret', () => {
    expect(run()).not.toContain(SECRET);
  });

  it('escapes per the runner rules', () => {
    expect(escapeData('a%b\rc\nd:e,f')).toBe('a%25b%0Dc%0Ad:e,f');
    expect(escapeProperty('a%b\rc\nd:e,f')).toBe('a%25b%0Dc%0Ad%3Ae%2Cf');
  });

  it('writes to a path, empty when nothing went wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-gh-'));
    const path = join(dir, 'gh.txt');
    const g = new GithubOutput({ redactor: new Redactor(), cwd: '/repo', path });
    await g.close();
    expect(readFileSync(path, 'utf8')).toBe('');
    const g2 = new GithubOutput({ redactor: new Redactor(), cwd: '/repo', path });
    for (const e of events) g2.emit(e);
    await g2.close();
    expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(5);
  });

  it('titles annotations with the templated name task.start reported', () => {
    let out = '';
    const g = new GithubOutput({ redactor: new Redactor(), cwd: '/repo', write: (s) => (out += s) });
    const raw = { ...t, id: 't9', name: 'deploy {{ app }}' };
    g.emit({ type: 'task.start', task: { ...raw, name: 'deploy web' }, hosts: ['a'], time: 0 });
    g.emit({
      type: 'host.result',
      host: 'a',
      task: raw,
      status: 'failed',
      result: { msg: 'x' },
      durationMs: 1,
      time: 1,
    });
    expect(out).toBe('::error file=plays/site.yml,line=12,col=7,title=deploy web::a: x\n');
  });
});
