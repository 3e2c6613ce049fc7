/**
 * The oracle: the same playbook run by ansible-playbook on one fresh host and by drover on
 * its twin must give the same recap, the same files (content, mode, owner) and the same
 * idempotent rerun.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Fleet } from '../lab/fleet.js';
import { runAnsiblePlaybook, runDrover, runSsh, useFleet } from '../lab/use-fleet.js';

let fleet: Fleet;
const dir = join(import.meta.dirname, 'playbooks');

function recapOf(stdout: string, host: string): string {
  const line = stdout.split('\n').find((l) => l.startsWith(`${host} `) && l.includes(' : ok='));
  if (!line) throw new Error(`no recap line for ${host} in:\n${stdout}`);
  return line
    .slice(line.indexOf(':') + 1)
    .trim()
    .replace(/\s+/g, ' ');
}

async function filesOf(host: string): Promise<string> {
  const r = await runSsh(
    fleet,
    host,
    'cd /srv && for f in $(ls -A | sort); do stat -c "%n %F %a %U:%G %s" "$f"; [ -f "$f" ] && cat "$f" | sed "s/^/  /"; done',
  );
  return r.stdout.replaceAll(host, 'HOST');
}

beforeAll(async () => {
  fleet = await useFleet();
});

describe('playbook oracle (ansible-playbook vs drover on twin fresh hosts)', () => {
  it('basics.yml: same recap, same files, same idempotent rerun', async () => {
    const [a, d] = [fleet.hosts[10]!.name, fleet.hosts[11]!.name];
    await Promise.all([fleet.resetHost(a), fleet.resetHost(d)]);
    try {
      const env = { ANSIBLE_CONFIG: fleet.ansibleCfgFile, NO_COLOR: '1' };
      const pb = join(dir, 'basics.yml');
      const ans1 = await runAnsiblePlaybook(fleet, [pb, '-l', a]);
      const drv1 = await runDrover(['playbook', '-i', fleet.inventoryFile, pb, '-l', d], { env });
      expect(drv1.code, drv1.stdout + drv1.stderr).toBe(ans1.code);
      expect(recapOf(drv1.stdout, d)).toBe(recapOf(ans1.stdout, a));
      expect(await filesOf(d)).toBe(await filesOf(a));

      const ans2 = await runAnsiblePlaybook(fleet, [pb, '-l', a]);
      const drv2 = await runDrover(['playbook', '-i', fleet.inventoryFile, pb, '-l', d], { env });
      expect(recapOf(drv2.stdout, d)).toBe(recapOf(ans2.stdout, a));
      // command tasks report changed on every run (in Ansible too): equality is the check.

      const ans3 = await runAnsiblePlaybook(fleet, [pb, '-l', a, '--start-at-task', 'a line']);
      const drv3 = await runDrover(
        ['playbook', '-i', fleet.inventoryFile, pb, '-l', d, '--start-at-task', 'a line'],
        {
          env,
        },
      );
      expect(recapOf(drv3.stdout, d)).toBe(recapOf(ans3.stdout, a));
      const banners = (out: string) => out.split('\n').filter((l) => l.startsWith('TASK ['));
      expect(banners(drv3.stdout)).toEqual(banners(ans3.stdout));
    } finally {
      await Promise.all([fleet.resetHost(a), fleet.resetHost(d)]);
    }
  });
});
