/** The shared modules/sh API other module areas build on: protocol, assignments, modes, prelude functions. */
import { describe, expect, it } from 'vitest';
import {
  normalizeMode,
  parseReport,
  parseStat,
  shAssign,
  shPath,
  shScript,
  shTilde,
} from '../../../../modules/sh/index.js';
import { runSh, scratch } from '../harness.js';

describe('parseReport', () => {
  it('reads plain and base64 values, repeats, ignores stray output and CR', () => {
    const b64 = Buffer.from('a\nb=c\u00e9').toString('base64');
    const r = parseReport(`junk line\nx=1\r\nname:b64=${b64}\nitem=a\nitem=b\n=bad\n9bad=1\n`);
    expect(r.get('x')).toBe('1');
    expect(r.int('x')).toBe(1);
    expect(r.get('name')).toBe('a\nb=c\u00e9');
    expect(r.all('item')).toEqual(['a', 'b']);
    expect(r.get('item')).toBe('b');
    expect(r.has('9bad')).toBe(false);
    expect(r.flag('missing')).toBe(false);
    expect(r.keys()).toEqual(['x', 'name', 'item']);
  });
});

describe('shAssign / shPath / shTilde', () => {
  it('quotes values and refuses bad names', () => {
    expect(shAssign('a', "it's")).toBe(`a='it'\\''s'`);
    expect(shAssign('a', true)).toBe('a=1');
    expect(shAssign('a', undefined)).toBe("a=''");
    expect(() => shAssign('a b', 'x')).toThrow(/invalid shell variable name/);
    expect(shPath('-rf')).toBe('./-rf');
    expect(() => shTilde('x;y')).toThrow();
  });
});

describe('normalizeMode', () => {
  it.each([
    [0o644, '0644'],
    [420, '0644'],
    [644, '1204'],
    ['644', '0644'],
    ['0755', '0755'],
    ['01777', '1777'],
    ['u+x,g-w', 'u+x,g-w'],
    ['a=rX', 'a=rX'],
    ['o=u', 'o=u'],
  ])('%s → %s', (raw, want) => {
    expect(normalizeMode(raw)).toEqual({ ok: true, mode: want });
  });

  it('rejects nonsense and preserve outside copy/template', () => {
    expect(normalizeMode('rwxr-xr-x').ok).toBe(false);
    expect(normalizeMode('99999').ok).toBe(false);
    expect(normalizeMode('preserve').ok).toBe(false);
    expect(normalizeMode('preserve', { allowPreserve: true })).toEqual({ ok: true, mode: 'preserve' });
    expect(normalizeMode(undefined)).toEqual({ ok: true, mode: undefined });
  });
});

describe('prelude functions under sh', () => {
  it('dr_stat, dr_attrs (check and real), dr_fail, dr_out64', async () => {
    const s = scratch();
    try {
      const script = shScript({
        check: true,
        tmp: s.dir,
        vars: { p: s.path("it's here"), v: 'x\ny' },
        tilde: ['p'],
        body: String.raw`: > "$p"; chmod 600 "$p"
dr_attrs "$p" "" "" "g+r"
dr_out checked "$DR_CHANGED"
dr_out mode_after_check "$(stat -c %a "$p")"
CHECK=0; DR_CHANGED=0
dr_attrs "$p" "" "" "g+r"
dr_out real "$DR_CHANGED"
dr_stat f. "$p"
dr_out64 v "$v"
dr_fail "stop: $v"
dr_out never 1`,
      });
      const r = await runSh(script);
      const rep = parseReport(r.stdout);
      expect(r.rc).toBe(1);
      expect(rep.get('checked')).toBe('1');
      expect(rep.get('mode_after_check')).toBe('600');
      expect(rep.get('real')).toBe('1');
      expect(parseStat(rep, 'f.')).toMatchObject({ type: 'file', mode: '0640', size: 0 });
      expect(rep.get('v')).toBe('x\ny');
      expect(rep.get('msg')).toBe('stop: x\ny');
      expect(rep.flag('failed')).toBe(true);
      expect(rep.has('never')).toBe(false);
    } finally {
      s.cleanup();
    }
  });
});
