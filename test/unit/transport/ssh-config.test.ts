import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expandSshTokens, parseSshConfig, resolveSshConfig } from '../../../src/transport/ssh-config.js';

// fixtures/home stands in for ~ so relative Include paths resolve as ssh resolves them.
const home = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'home');
const opts = { files: [join(home, '.ssh', 'config')], home };

describe('ssh config', () => {
  it('parses Keyword value, Keyword=value and quotes', () => {
    const lines = parseSshConfig('Host a b\n  User = me\nIdentityFile "/x y/z"\n# c\n');
    expect(lines.map((l) => [l.keyword, l.args])).toEqual([
      ['host', ['a', 'b']],
      ['user', ['me']],
      ['identityfile', ['/x y/z']],
    ]);
  });

  it('first obtained value wins; IdentityFile accumulates; Host * fills the rest', () => {
    const c = resolveSshConfig('bastion', opts);
    expect(c.hostName).toBe('10.0.0.1');
    expect(c.user).toBe('jumper');
    expect(c.port).toBe(2201);
    expect(c.identityFiles).toEqual(['~/.ssh/id_default']);
    expect(c.proxyJump).toBeUndefined();
  });

  it('honours negated patterns', () => {
    const app = resolveSshConfig('app.internal', opts);
    expect(app.proxyJump).toEqual(['bastion']);
    expect(app.user).toBe('ops');
    expect(app.strictHostKeyChecking).toBe('accept-new');
    expect(app.identityFiles).toEqual(['~/.ssh/internal_%r_%h', '~/.ssh/id_default']);
    expect(app.port).toBe(2200);
    const legacy = resolveSshConfig('legacy.internal', opts);
    expect(legacy.proxyJump).toBeUndefined();
    expect(legacy.user).toBe('defaultuser');
    expect(legacy.port).toBe(2022);
    expect(legacy.hostName).toBe('legacy.internal.example.net');
  });

  it('skips Match blocks with a note and follows Include globs', () => {
    const db = resolveSshConfig('db1', opts);
    expect(db.notes.some((n) => n.includes('Match'))).toBe(true);
    expect(db.hostName).toBe('192.168.7.7');
    expect(db.user).toBe('dba');
    expect(db.strictHostKeyChecking).toBe('off');
    // Include sits inside `Host db*`: other hosts must not see it
    expect(resolveSshConfig('web1', opts).hostName).toBeUndefined();
    // the Match block's User must not leak
    expect(resolveSshConfig('foo', opts).user).toBe('defaultuser');
  });

  it('reads ConnectTimeout, UserKnownHostsFile lists and ? wildcards', () => {
    const w = resolveSshConfig('web1', opts);
    expect(w.connectTimeoutMs).toBe(7000);
    expect(w.userKnownHostsFiles).toEqual([join(opts.home, '.ssh/kh_web'), '/etc/ssh/kh web']);
    expect(resolveSshConfig('web10', opts).connectTimeoutMs).toBeUndefined();
  });

  it('reads HashKnownHosts', () => {
    expect(resolveSshConfig('x', { text: 'Host *\n  HashKnownHosts yes\n', files: [] }).hashKnownHosts).toBe(
      true,
    );
  });

  it('a missing config file is no config', () => {
    expect(resolveSshConfig('x', { files: ['/nonexistent/config'] })).toEqual({
      identityFiles: [],
      notes: [],
    });
  });

  it('expands tokens and ~', () => {
    expect(
      expandSshTokens('~/.ssh/k_%r@%h:%p_%n_%u_%%', {
        host: '10.0.0.1',
        port: 22,
        remoteUser: 'ops',
        originalHost: 'app',
        localUser: 'me',
        home: '/home/me',
      }),
    ).toBe('/home/me/.ssh/k_ops@10.0.0.1:22_app_me_%');
    expect(expandSshTokens('%d/x', { host: 'h', port: 1, remoteUser: 'u', home: '/h' })).toBe('/h/x');
  });
});
