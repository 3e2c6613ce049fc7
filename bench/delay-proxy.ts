/**
 * A userspace WAN: a TCP proxy in front of each host that holds every chunk for a fixed
 * time in each direction (this machine has no `tc netem`). With 25 ms each way a round
 * trip costs 50 ms, so the table shows what round trips cost each tool.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import type { Fleet } from '../test/lab/fleet.js';
import type { Target } from './tools.js';

export interface DelayProxies {
  ports: number[];
  close(): Promise<void>;
}

/** Forwards `from` to `to`, each chunk `delayMs` later; equal delays keep the order. */
function pipeDelayed(from: Socket, to: Socket, delayMs: number): void {
  from.on('data', (chunk: Buffer) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, delayMs);
  });
  from.on('end', () => setTimeout(() => to.end(), delayMs));
  from.on('error', () => to.destroy());
  from.on('close', () => setTimeout(() => to.destroy(), delayMs + 1));
}

export async function startDelayProxies(
  upstreamPorts: number[],
  basePort: number,
  delayMs: number,
): Promise<DelayProxies> {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const ports = upstreamPorts.map((_, i) => basePort + i);
  const started = Promise.all(
    upstreamPorts.map(
      (up, i) =>
        new Promise<void>((resolve, reject) => {
          const server = createServer((client) => {
            const upstream = tcpConnect({ host: '127.0.0.1', port: up });
            client.setNoDelay(true);
            upstream.setNoDelay(true);
            sockets.add(client);
            sockets.add(upstream);
            client.on('close', () => sockets.delete(client));
            upstream.on('close', () => sockets.delete(upstream));
            pipeDelayed(client, upstream, delayMs);
            pipeDelayed(upstream, client, delayMs);
          });
          servers.push(server);
          server.once('error', reject);
          // Loopback only: nothing the bench starts listens outside 127.0.0.1.
          server.listen(ports[i], '127.0.0.1', () => resolve());
        }),
    ),
  );
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await Promise.all(
      servers.filter((s) => s.listening).map((s) => new Promise<void>((r) => s.close(() => r()))),
    );
  };
  try {
    await started;
  } catch (e) {
    // one port was taken: release the ones that did listen
    await close();
    throw e;
  }
  return { ports, close };
}

/**
 * Inventory, known_hosts and ansible.cfg that reach `names` through the proxies (same host
 * names, proxy ports), in `dir`.
 */
export async function proxiedTarget(
  fleet: Fleet,
  names: string[],
  ports: number[],
  dir: string,
  scratchDir: string,
): Promise<Target> {
  const hostKey = (await readFile(`${fleet.info.hostKeyFile}.pub`, 'utf8'))
    .trim()
    .split(/\s+/)
    .slice(0, 2)
    .join(' ');
  const knownHostsFile = join(dir, 'known_hosts');
  const inventoryFile = join(dir, 'inventory.ini');
  const ansibleCfgFile = join(dir, 'ansible.cfg');
  writeFileSync(knownHostsFile, ports.map((p) => `[127.0.0.1]:${p} ${hostKey}\n`).join(''));
  writeFileSync(
    inventoryFile,
    `[fleet]\n${names
      .map(
        (n, i) =>
          `${n} ansible_host=127.0.0.1 ansible_port=${ports[i]} ansible_user=root ` +
          `ansible_ssh_private_key_file=${fleet.keyFile} ansible_python_interpreter=/usr/bin/python3`,
      )
      .join('\n')}\n`,
  );
  const cfg = (await readFile(fleet.ansibleCfgFile, 'utf8'))
    .replaceAll(fleet.knownHostsFile, knownHostsFile)
    .replaceAll(fleet.inventoryFile, inventoryFile);
  writeFileSync(ansibleCfgFile, cfg);
  return { inventoryFile, ansibleCfgFile, knownHostsFile, hosts: names.length, scratchDir };
}
