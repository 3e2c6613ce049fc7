import { describe, expect, it } from 'vitest';
import { validateArgs } from './args.js';
import { uri } from './net/uri.js';
import { packageModule } from './packages/package.js';

describe('validateArgs: booleans against yes/no choices (AnsibleModule maps them back)', () => {
  it('uri follow_redirects: no (YAML false) becomes "no"', () => {
    const v = validateArgs('uri', uri.args, { url: 'http://x/', follow_redirects: false });
    expect(v.errors).toEqual([]);
    expect(v.args.follow_redirects).toBe('no');
    const y = validateArgs('uri', uri.args, { url: 'http://x/', follow_redirects: true });
    expect(y.errors).toEqual([]);
    expect(y.args.follow_redirects).toBe('yes');
  });

  it('a choice list without a boolean spelling still refuses a bool', () => {
    const v = validateArgs('uri', uri.args, { url: 'http://x/', body_format: false });
    expect(v.errors.join()).toContain('value of body_format must be one of');
  });
});

describe('package', () => {
  it('state is optional (the backend default, present, applies)', () => {
    const v = validateArgs('package', packageModule.args, { name: 'sl' });
    expect(v.errors).toEqual([]);
    expect(v.args.state).toBeUndefined();
  });
});
