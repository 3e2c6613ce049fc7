import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../src/events/types.js';
import { StatusLine } from '../../../src/runner/status-line.js';

const task = { id: 't1', name: 'slow task', action: 'command', pos: { file: 'p.yml', line: 1, col: 1 } };

function setup() {
  let now = 0;
  const out: string[] = [];
  const line = new StatusLine({ write: (s) => out.push(s), now: () => now, everyMs: 0, columns: () => 200 });
  return { line, out, advance: (ms: number) => (now += ms) };
}

describe('status line', () => {
  it('appears once a task runs long, counts done hosts and names the ones still running', () => {
    const { line, out, advance } = setup();
    line.emit({ type: 'task.start', task, hosts: ['h1', 'h2', 'h3', 'h4', 'h5'], time: 0 });
    line.tick();
    expect(out).toEqual([]); // a fresh task shows nothing
    advance(3000);
    line.emit({
      type: 'host.result',
      host: 'h2',
      task,
      status: 'ok',
      result: {},
      durationMs: 1,
      time: 0,
    } as RunEvent);
    line.tick();
    expect(out.join('')).toBe('\r\x1b[K[1/5 hosts done] slow task: waiting on h1 3s, h3 3s, h4 3s +1 more');
  });

  it('is wiped before other output and at the recap', () => {
    const { line, out, advance } = setup();
    const write = line.wrap((s) => out.push(`OUT:${s}`));
    line.emit({ type: 'task.start', task, hosts: ['h1'], time: 0 });
    advance(5000);
    line.tick();
    write('changed: [h1]\n');
    expect(out.slice(1)).toEqual(['\r\x1b[K', 'OUT:changed: [h1]\n']);
    write('more\n');
    expect(out.at(-1)).toBe('OUT:more\n'); // nothing to wipe any more
    line.tick();
    line.emit({ type: 'recap', stats: {}, durationMs: 1, time: 0 } as RunEvent);
    expect(out.at(-1)).toBe('\r\x1b[K');
  });

  it('fits the terminal width', () => {
    let now = 0;
    const out: string[] = [];
    const line = new StatusLine({ write: (s) => out.push(s), now: () => now, everyMs: 0, columns: () => 30 });
    line.emit({ type: 'task.start', task, hosts: ['a-rather-long-host-name'], time: 0 });
    now = 9000;
    line.tick();
    expect(out[0]!.replace('\r\x1b[K', '').length).toBeLessThanOrEqual(30);
  });
});
