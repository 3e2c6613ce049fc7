import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import {
  ansibleBool,
  connectionNotes,
  connectionSpecFromVars,
  parseSshArgs,
  shellWords,
} from '../../../src/transport/spec.js';

const home = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'home');
const noConfig = { sshConfigFiles: [] as string[], env: {}, localUser: 'me', home: '/home/me' };
const withConfig = { sshConfigFiles: [join(home, '.ssh', 'config')], env: {}, localUser: 'me', home };

describe('connectionSpecFromVars', () => {
  it('defaults: inventory name, port 22, local user, strict, 10 s', () => {
    const s = connectionSpecFromVars('web1', {}, noConfig);
    expect(s).toMatchObject({
      host: 'web1',
      connection: 'ssh',
      address: 'web1',
      port: 22,
      user: 'me',
      privateKeyFiles: [],
      hostKeyChecking: 'strict',
      connectTimeoutMs: 10_000,
    });
    expect(s.password).toBeUndefined();
    expect(s.proxyJump).toBeUndefined();
    expect(s.become).toMatchObject({ enabled: false, method: 'sudo', user: 'root' });
  });

  it('reads the ansible_* connection variables and their aliases', () => {
    const s = connectionSpecFromVars(
      'db',
      {
        ansible_host: '10.1.1.1',
        ansible_port: '2222',
        ansible_ssh_user: 'deploy',
        ansible_ssh_pass: 'pw',
        ansible_ssh_private_key_file: '~/.ssh/deploy_%r',
        ansible_become: 'yes',
        ansible_become_method: 'su',
        ansible_become_user: 'postgres',
        ansible_become_pass: 'bpw',
        ansible_become_flags: '-l',
        ansible_become_exe: '/bin/su',
        ansible_ssh_timeout: 3,
      },
      noConfig,
    );
    expect(s).toMatchObject({
      address: '10.1.1.1',
      port: 2222,
      user: 'deploy',
      password: 'pw',
      connectTimeoutMs: 3000,
    });
    expect(s.privateKeyFiles).toEqual(['/home/me/.ssh/deploy_deploy']);
    expect(s.become).toEqual({
      enabled: true,
      method: 'su',
      user: 'postgres',
      password: 'bpw',
      flags: '-l',
      exe: '/bin/su',
    });
    expect(s.origin?.user).toBe('ansible_ssh_user');
  });

  it('host vars beat CLI flags, CLI flags fill the gaps', () => {
    const cli = {
      ...noConfig,
      user: 'cliuser',
      privateKey: '/k/cli',
      timeout: 4,
      password: 'askpass',
      become: true,
    };
    const a = connectionSpecFromVars('h', { ansible_user: 'varuser', ansible_timeout: '9' }, cli);
    expect(a.user).toBe('varuser');
    expect(a.connectTimeoutMs).toBe(9000);
    expect(a.privateKeyFiles).toEqual(['/k/cli']);
    expect(a.password).toBe('askpass');
    expect(a.become?.enabled).toBe(true);
    const b = connectionSpecFromVars('h', { ansible_become: false }, cli);
    expect(b.user).toBe('cliuser');
    expect(b.become?.enabled).toBe(false);
  });

  it('parses ProxyJump, StrictHostKeyChecking, known hosts files, -p -i -l from ssh args', () => {
    const s = connectionSpecFromVars(
      'h',
      {
        ansible_ssh_common_args: "-o ProxyJump=jump@bastion:2200 -o 'StrictHostKeyChecking accept-new'",
        ansible_ssh_extra_args:
          '-oUserKnownHostsFile=/tmp/kh -p 2022 -i /k/extra -l argsuser -o ForwardAgent=yes',
      },
      noConfig,
    );
    expect(s.proxyJump).toEqual(['jump@bastion:2200']);
    expect(
      connectionSpecFromVars('h', { ansible_ssh_common_args: '-J bastion' }, withConfig).proxyJump,
    ).toEqual(['jumper@10.0.0.1:2201']);
    expect(s.hostKeyChecking).toBe('accept-new');
    expect(s.knownHostsFiles).toEqual(['/tmp/kh']);
    expect(s.port).toBe(2022);
    expect(s.privateKeyFiles).toEqual(['/k/extra']);
    expect(s.user).toBe('argsuser');
    const j = connectionSpecFromVars('h', { ansible_ssh_common_args: '-J a,b@c:23' }, noConfig);
    expect(j.proxyJump).toEqual(['a:22', 'b@c:23']);
    const pc = connectionSpecFromVars(
      'h',
      { ansible_ssh_common_args: '-o ProxyCommand="ssh -W %h:%p -q ops@bastion.example.com"' },
      noConfig,
    );
    expect(pc.proxyJump).toEqual(['ops@bastion.example.com:22']);
    expect(
      connectionSpecFromVars('h', { ansible_ssh_extra_args: '-o HashKnownHosts=yes' }, noConfig)
        .hashKnownHosts,
    ).toBe(true);
    expect(parseSshArgs('-o ForwardAgent=yes -C').ignored).toEqual(['-o ForwardAgent=yes', '-C']);
  });

  it('ssh_args (cfg / ANSIBLE_SSH_ARGS) come first, so they win over common and extra args', () => {
    const cli = { ...noConfig, sshArgs: '-o ControlMaster=auto -o UserKnownHostsFile=/cfg/kh -o Port=2000' };
    const s = connectionSpecFromVars(
      'h',
      { ansible_ssh_common_args: '-o UserKnownHostsFile=/var/kh -p 3000' },
      cli,
    );
    expect(s.knownHostsFiles).toEqual(['/cfg/kh']);
    expect(s.port).toBe(2000);
    const e = connectionSpecFromVars('h', {}, { ...noConfig, env: { ANSIBLE_SSH_COMMON_ARGS: '-J jumpy' } });
    expect(e.proxyJump).toEqual(['jumpy:22']);
    expect(
      connectionNotes({ ansible_ssh_args: '-o ControlPersist=60s' }, { ...noConfig, sshArgs: '-C' }),
    ).toEqual(['ssh option -o ControlPersist=60s is not supported by drover and was ignored']);
    expect(connectionNotes({}, { ...noConfig, sshArgs: '-C -o ForwardAgent=yes' })).toEqual([
      'ssh option -C is not supported by drover and was ignored',
      'ssh option -o ForwardAgent=yes is not supported by drover and was ignored',
    ]);
  });

  it('host_key_checking: var, then ANSIBLE_HOST_KEY_CHECKING, then ssh options', () => {
    expect(connectionSpecFromVars('h', { ansible_host_key_checking: false }, noConfig).hostKeyChecking).toBe(
      'off',
    );
    const env = { ...noConfig, env: { ANSIBLE_HOST_KEY_CHECKING: 'False' } };
    expect(connectionSpecFromVars('h', {}, env).hostKeyChecking).toBe('off');
    expect(connectionSpecFromVars('h', { ansible_host_key_checking: 'yes' }, env).hostKeyChecking).toBe(
      'strict',
    );
    expect(
      connectionSpecFromVars('h', { ansible_ssh_common_args: '-o StrictHostKeyChecking=no' }, noConfig)
        .hostKeyChecking,
    ).toBe('off');
    expect(connectionSpecFromVars('h', {}, { ...noConfig, hostKeyChecking: false }).hostKeyChecking).toBe(
      'off',
    );
  });

  it('merges ~/.ssh/config the way ssh does, explicit Ansible vars win', () => {
    const s = connectionSpecFromVars('app', { ansible_host: 'app.internal' }, withConfig);
    expect(s.user).toBe('ops');
    expect(s.port).toBe(2200);
    // the jump alias is resolved through the same config, as ssh does
    expect(s.proxyJump).toEqual(['jumper@10.0.0.1:2201']);
    expect(s.hostKeyChecking).toBe('accept-new');
    expect(s.privateKeyFiles).toEqual([
      join(home, '.ssh/internal_ops_app.internal'),
      join(home, '.ssh/id_default'),
    ]);
    const v = connectionSpecFromVars(
      'app',
      {
        ansible_host: 'app.internal',
        ansible_user: 'root',
        ansible_port: 22,
        ansible_host_key_checking: false,
      },
      withConfig,
    );
    expect(v.user).toBe('root');
    expect(v.port).toBe(22);
    expect(v.hostKeyChecking).toBe('off');
    expect(v.privateKeyFiles[0]).toBe(join(home, '.ssh/internal_root_app.internal'));
    const db = connectionSpecFromVars('db1', {}, withConfig);
    expect(db.address).toBe('192.168.7.7');
    expect(db.origin?.address).toBe('ssh config HostName');
  });

  it('local connection reads no ssh config', () => {
    const s = connectionSpecFromVars('app.internal', { ansible_connection: 'local' }, withConfig);
    expect(s.connection).toBe('local');
    expect(s.proxyJump).toBeUndefined();
  });

  it('ssh retries from var, env or cfg', () => {
    expect(connectionSpecFromVars('h', { ansible_ssh_retries: '3' }, noConfig).connectRetries).toBe(3);
    expect(
      connectionSpecFromVars('h', {}, { ...noConfig, env: { ANSIBLE_SSH_RETRIES: '2' } }).connectRetries,
    ).toBe(2);
    expect(connectionSpecFromVars('h', {}, { ...noConfig, retries: 1 }).connectRetries).toBe(1);
    expect(connectionSpecFromVars('h', {}, noConfig).connectRetries).toBeUndefined();
    expect(() => connectionSpecFromVars('h', { ansible_ssh_retries: 'lots' }, noConfig)).toThrow(
      /host h: ssh retries/,
    );
  });

  it('rejects bad ports and unsupported become methods with the host named', () => {
    expect(() => connectionSpecFromVars('h', { ansible_port: 'ssh' }, noConfig)).toThrow(
      /host h: ansible_port/,
    );
    expect(() =>
      connectionSpecFromVars('h', { ansible_become: true, ansible_become_method: 'doas' }, noConfig),
    ).toThrow(UsageError);
  });

  it('word splitting and booleans follow shlex and Ansible', () => {
    expect(shellWords(`-o "A=b c" 'd e' f\\ g "x\\"y"`)).toEqual(['-o', 'A=b c', 'd e', 'f g', 'x"y']);
    expect([ansibleBool('Yes'), ansibleBool('off'), ansibleBool('maybe'), ansibleBool(1)]).toEqual([
      true,
      false,
      undefined,
      true,
    ]);
  });
});
