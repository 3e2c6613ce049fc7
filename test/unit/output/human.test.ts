import { describe, expect, it } from 'vitest';
import { cleanResult, HumanOutput, renderDiff } from '../../../src/output/human.js';

describe('renderDiff', () => {
  it('prints a unified diff with deletions before insertions, as difflib does', () => {
    const d = renderDiff({
      before: 'a\nold\nc\n',
      after: 'a\nnew\nc\n',
      before_header: 'f',
      after_header: 'f',
    });
    expect(d).toBe('--- before: f\n+++ after: f\n@@ -1,3 +1,3 @@\n a\n-old\n+new\n c\n\n');
  });
  it('is empty when nothing differs', () => {
    expect(renderDiff({ before: 'x\n', after: 'x\n' })).toBe('');
  });
});

describe('cleanResult', () => {
  it('drops status keys and internals, and keeps only msg for debug', () => {
    expect(cleanResult({ changed: true, failed: true, rc: 1, _ansible_no_log: false }, 0)).toEqual({
      changed: true,
      rc: 1,
    });
    expect(cleanResult({ msg: 'hi', changed: false, _ansible_verbose_always: true }, 0, 'debug')).toEqual({
      msg: 'hi',
    });
    expect(cleanResult({ foo: 1, changed: false }, 0, 'ansible.builtin.debug')).toEqual({ foo: 1 });
  });
});

describe('HumanOutput recap', () => {
  it('pads like the default callback', () => {
    let out = '';
    const h = new HumanOutput({ write: (s) => (out += s), color: false, verbosity: 0 });
    h.emit({
      type: 'recap',
      stats: { web1: { ok: 2, changed: 1, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 } },
      durationMs: 1,
      time: 0,
    });
    expect(out).toContain(
      'web1                       : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   \n',
    );
  });
});
