#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DroverError } from '../../src/errors.js';
import { cleanupStale, mountsUnder } from '../../src/machine/cleanup.js';
import { processesMountingUnder, processesRootedUnder } from '../../src/machine/processes.js';
import { openFleet, startFleet } from './fleet.js';
import { repoRoot } from './repo-root.js';

// Hosts outlive `up`: it returns once they answer, and `down` (from any process) ends them.

function int(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a positive integer`);
    return n;
  };
}

const defaultDir = (): string => join(repoRoot(), '.lab', 'default');

const program = new Command('lab')
  .description('the drover test fleet: sshd hosts in namespaces on 127.0.0.1')
  .showHelpAfterError();

program
  .command('up')
  .argument('<count>', 'number of hosts', int('count'))
  .option('--dir <dir>', 'fleet dir (default .lab/default in the repo)')
  .option('--base-port <port>', 'port of the first host', int('base port'), 22000)
  .option('--prefix <prefix>', 'host name prefix', 'h')
  .option('--hold', 'stay in the foreground; SIGINT/SIGTERM stops the hosts')
  .description('boot COUNT hosts (whatever ran in the dir before is stopped first)')
  .action(async (count: number, o: { dir?: string; basePort: number; prefix: string; hold?: boolean }) => {
    const t0 = performance.now();
    const fleet = await startFleet({
      count,
      dir: o.dir ?? defaultDir(),
      basePort: o.basePort,
      prefix: o.prefix,
    });
    const ms = Math.round(performance.now() - t0);
    const first = fleet.hosts[0];
    console.log(`${fleet.hosts.length} hosts up in ${ms} ms in ${fleet.dir}`);
    if (first) {
      console.log(
        `  ssh -i ${fleet.keyFile} -o UserKnownHostsFile=${fleet.knownHostsFile} -p ${first.port} root@127.0.0.1`,
      );
    }
    console.log(
      `  ANSIBLE_CONFIG=${fleet.ansibleCfgFile} ansible-playbook -i ${fleet.inventoryFile} PLAYBOOK`,
    );
    if (!o.hold) return;
    console.log('holding: Ctrl-C stops the hosts');
    // Signal listeners alone do not keep Node's event loop alive.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    clearInterval(keepAlive);
    await fleet.stop();
    console.log('hosts stopped');
  });

program
  .command('down')
  .option('--dir <dir>', 'fleet dir (default .lab/default in the repo)')
  .description('stop every host in the dir, even after a crashed `up`; files stay')
  .action(async (o: { dir?: string }) => {
    const report = await cleanupStale(o.dir ?? defaultDir());
    console.log(
      `down: ${report.hosts.length} host record(s), ${report.killed.length} stray process(es) killed, ` +
        `${report.unmounted.length} mount(s) removed`,
    );
  });

program
  .command('status')
  .option('--dir <dir>', 'fleet dir (default .lab/default in the repo)')
  .description('list the hosts and whether each runs')
  .action(async (o: { dir?: string }) => {
    const fleet = await openFleet(o.dir ?? defaultDir());
    let up = 0;
    for (const h of fleet.hosts) {
      const running = await fleet.isRunning(h.name);
      if (running) up++;
      console.log(`${h.name}\t127.0.0.1:${h.port}\t${running ? 'running' : 'stopped'}`);
    }
    const procs = await processesRootedUnder([fleet.dir]);
    const mounts = await mountsUnder(fleet.dir);
    const namespaced = await processesMountingUnder(fleet.dir);
    console.log(
      `${up}/${fleet.hosts.length} running, ${procs.length} process(es) inside, ` +
        `${mounts.length} mount(s) here, ${namespaced.length} process(es) in namespaces mounting under the dir`,
    );
  });

program
  .command('ssh')
  .argument('<host>', 'host name, e.g. h01')
  .argument('[command...]', 'command to run (default: a login shell)')
  .option('--dir <dir>', 'fleet dir (default .lab/default in the repo)')
  .option('-u, --user <user>', 'root, drover or dpw', 'root')
  .description("ssh into a host with the fleet's key and known_hosts")
  .action(async (host: string, command: string[], o: { dir?: string; user: string }) => {
    const fleet = await openFleet(o.dir ?? defaultDir());
    const args = fleet.sshArgs(host, o.user, command);
    // An interactive shell needs a terminal: drop BatchMode's no-prompt stance only for that.
    if (command.length === 0) args.unshift('-t');
    const child = spawn('ssh', args, { stdio: 'inherit' });
    process.exitCode = await new Promise<number>((resolve) =>
      child.once('close', (code) => resolve(code ?? 255)),
    );
  });

program
  .command('reset')
  .argument('<host...>', 'host names')
  .option('--dir <dir>', 'fleet dir (default .lab/default in the repo)')
  .description('stop the hosts, wipe their upper layers, start them again: as new')
  .action(async (hosts: string[], o: { dir?: string }) => {
    const fleet = await openFleet(o.dir ?? defaultDir());
    for (const h of hosts) fleet.host(h);
    await Promise.all(hosts.map((h) => fleet.resetHost(h)));
    console.log(`reset ${hosts.join(', ')}`);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof DroverError) {
    console.error(`lab: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}`);
    process.exitCode = err.exitCode;
  } else {
    throw err;
  }
}
