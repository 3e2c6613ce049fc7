/**
 * A build instance: the base rootfs booted as an ephemeral namespaced host (src/machine,
 * the same code as the test fleet) with a tiny PID 1 from the rootfs' own sh, reached
 * through the nsexec transport, or over SSH through an sshd started inside it whose keys
 * live on the instance's tmpfs /run (so nothing of them lands in the image).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bootHost, type HostHandle } from '../machine/host.js';
import { quote } from '../shell/quote.js';
import { NsexecConnection } from '../transport/nsexec.js';
import { SshConnection } from '../transport/ssh.js';
import type { Connection, ConnectionSpec } from '../transport/types.js';

const run = promisify(execFile);

/** PID 1 of an instance: waits for children until SIGTERM (the rootfs' own sh and sleep). */
export const INIT_COMMAND = [
  '/bin/sh',
  '-c',
  'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done',
];

export interface InstanceOptions {
  name: string;
  hostDir: string;
  rootfs: string;
  hostname: string;
  communicator: 'nsexec' | 'ssh';
  sshPort?: number;
}

export interface Instance {
  name: string;
  host: HostHandle;
  /** The connection provisioners use (nsexec, or ssh for communicator: ssh). */
  conn: Connection;
  /** Always available: runs as root inside the namespaces (shell/file provisioners stream through it). */
  nsexec: NsexecConnection;
  /** Inventory vars of the one-host inventory the playbook provisioner runs with. */
  inventoryVars: Record<string, string | number | boolean>;
  /** How to get a shell in it (printed by -on-error=abort). */
  shellCommand: string;
}

export async function startInstance(o: InstanceOptions): Promise<Instance> {
  await mkdir(o.hostDir, { recursive: true });
  const host = await bootHost({
    name: o.name,
    hostDir: o.hostDir,
    lowerDirs: [o.rootfs],
    hostname: o.hostname,
    command: INIT_COMMAND,
    dev: 'minimal',
    readyTimeoutMs: 20_000,
  });
  const nsexec = await NsexecConnection.create({
    host: o.name,
    pid: host.pid,
    launcherPath: join(o.hostDir, 'nsexec-sh'),
  });
  const shellCommand = `nsenter --target ${host.pid} --mount --uts --pid --root --wd /bin/sh`;
  if (o.communicator !== 'ssh') {
    return {
      name: o.name,
      host,
      conn: nsexec,
      nsexec,
      inventoryVars: { ansible_connection: 'nsexec' },
      shellCommand,
    };
  }
  const port = o.sshPort ?? 22;
  const key = join(o.hostDir, 'id_ed25519');
  const hostKey = join(o.hostDir, 'ssh_host_ed25519_key');
  await rm(key, { force: true });
  await rm(hostKey, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'drover-build', '-f', key]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'drover-build-host', '-f', hostKey]);
  await nsexec.put(await readFile(`${key}.pub`), '/run/drover-build.authorized_keys', { mode: 0o600 });
  await nsexec.put(await readFile(hostKey), '/run/drover-build.host_key', { mode: 0o600 });
  const r = await nsexec.run(
    [
      'mkdir -p -m 755 /run/sshd',
      `/usr/sbin/sshd -p ${port} -o ListenAddress=127.0.0.1 -o UsePAM=no -o PidFile=none -o PermitRootLogin=prohibit-password ` +
        `-o AuthorizedKeysFile=/run/drover-build.authorized_keys -h /run/drover-build.host_key -o MaxStartups=100 -o MaxSessions=100 -o LogLevel=ERROR`,
    ].join(' && '),
  );
  if (r.rc !== 0) {
    await host.stop({ graceMs: 0 }).catch(() => undefined);
    throw new Error(
      `could not start sshd in instance ${o.name} (communicator: ssh): ${r.stderr.trim() || `rc ${r.rc}`}`,
    );
  }
  const knownHosts = join(o.hostDir, 'known_hosts');
  const pub = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
  await run('sh', ['-c', `printf '%s\\n' ${quote(`[127.0.0.1]:${port} ${pub}`)} > ${quote(knownHosts)}`]);
  const spec: ConnectionSpec = {
    host: o.name,
    connection: 'ssh',
    address: '127.0.0.1',
    port,
    user: 'root',
    privateKeyFiles: [key],
    hostKeyChecking: 'strict',
    knownHostsFiles: [knownHosts],
    connectTimeoutMs: 10_000,
    connectRetries: 20,
  };
  const conn = new SshConnection(spec);
  await conn.connect();
  return {
    name: o.name,
    host,
    conn,
    nsexec,
    inventoryVars: {
      ansible_connection: 'ssh',
      ansible_host: '127.0.0.1',
      ansible_port: port,
      ansible_user: 'root',
      ansible_ssh_private_key_file: key,
      ansible_ssh_common_args: `-o UserKnownHostsFile=${knownHosts}`,
    },
    shellCommand,
  };
}

export async function stopInstance(i: Instance, remove: boolean): Promise<void> {
  await i.conn.close().catch(() => undefined);
  await i.nsexec.close().catch(() => undefined);
  await i.host.stop({ graceMs: 200 });
  if (remove) await rm(i.host.hostDir, { recursive: true, force: true });
}
