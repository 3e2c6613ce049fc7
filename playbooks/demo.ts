/**
 * `npm run demo`: boots a 5-host lab fleet (real sshd hosts in namespaces), runs an
 * ad-hoc command and playbooks/demo.yml against it twice (changes, then none), and stops
 * the fleet, whatever happens.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFleet } from '../test/lab/fleet.js';
import { startPgCluster } from '../test/lab/pg.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const drover = join(root, 'dist/cli/drover.js');

function step(title: string, args: string[], env: NodeJS.ProcessEnv): number {
  process.stdout.write(`\n\x1b[1m$ drover ${args.join(' ')}\x1b[0m   # ${title}\n`);
  const r = spawnSync(process.execPath, [drover, ...args], { stdio: 'inherit', env });
  return r.status ?? 1;
}

async function main(): Promise<void> {
  const fleet = await startFleet({ count: 5, dir: join(root, '.lab/demo'), basePort: 22100, prefix: 'demo' });
  let failed = false;
  try {
    const env = { ...process.env, ANSIBLE_CONFIG: fleet.ansibleCfgFile };
    const inv = fleet.inventoryFile;
    const runs: [string, string[]][] = [
      ['every host answers with its own hostname', ['exec', 'all', '-i', inv, '-m', 'shell', '-a', 'echo "$(hostname): $(uname -sr)"', '-o']],
      ['configure the fleet', ['playbook', '-i', inv, join(root, 'playbooks/demo.yml')]],
      ['run again: nothing left to change', ['playbook', '-i', inv, join(root, 'playbooks/demo.yml')]],
      ['dry run with diff of one drifted file', ['exec', 'demo01', '-i', inv, '-m', 'shell', '-a', 'echo drift >> /etc/motd']],
      ['what would change, without changing it', ['playbook', '-i', inv, join(root, 'playbooks/demo.yml'), '--check', '--diff', '-l', 'demo01']],
    ];
    for (const [title, args] of runs) {
      if (step(title, args, env) !== 0) failed = true;
    }
  } finally {
    await fleet.stop();
  }
  if (!(await infraDemo())) failed = true;
  // The same playbook baked into an image: the first run makes the Debian rootfs (about a
  // minute); later runs find every step unchanged and take a few seconds.
  const image = join(root, 'images/base.yml');
  if (step('bake the demo role into a Debian 12 image (cached after the first run)', ['build', image], process.env) !== 0)
    failed = true;
  process.stdout.write(failed ? '\ndemo: a step failed (see above)\n' : '\ndemo: done, fleet stopped, infra destroyed\n');
  process.exitCode = failed ? 1 : 0;
}

/** infra/: apply (3 machines + a PostgreSQL role and database), configure them, destroy. */
async function infraDemo(): Promise<boolean> {
  const pg = await startPgCluster({ dir: join(root, '.lab/demo-pg'), portFrom: 25660, portTo: 25669 });
  const vars = ['-var', `pg_port=${pg.port}`, '-var', `pg_password=${pg.password}`, '-var', 'port_range=25590-25599'];
  const env = { ...process.env };
  let ok = true;
  try {
    const dir = join(root, 'infra');
    const runs: [string, string[]][] = [
      ['create 3 machines and a database', ['infra', 'apply', dir, '-auto-approve', ...vars]],
      ['configure what was created', ['playbook', '-i', join(dir, 'inventory.yml'), join(dir, 'site.yml')]],
      ['converged: nothing to do', ['infra', 'plan', dir, ...vars]],
    ];
    for (const [title, args] of runs) {
      if (step(title, args, env) !== 0) {
        ok = false;
        break;
      }
    }
    if (step('tear it all down', ['infra', 'destroy', join(root, 'infra'), '-auto-approve', ...vars], env) !== 0) ok = false;
  } finally {
    await pg.stop();
  }
  return ok;
}

await main();
