/**
 * Image build benchmark (`npm run bench -- --only build`; alone: `node dist/bench/build-case.js`):
 * `drover build images/base.yml` cold (empty build dir: mmdebstrap, base layer, provisioning,
 * verify, archives) and warm (every step cached), against the same steps done by hand:
 * `mmdebstrap` into a directory, the provisioning as shell in `chroot`, then
 * `tar --sort=name | gzip -n` of the rootfs. Also reports the image sizes. Each row is one
 * measured run; a run that did not do the work says so in its note.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanupStale } from '../src/machine/cleanup.js';
import { type Measurement, measure } from './measure.js';
import type { Row } from './table.js';
import { droverCli, repoRoot } from './tools.js';

/** What images/base.yml's provisioners do, as plain shell run in a chroot. */
const BY_HAND_PROVISION = [
  'rm -f /etc/ssh/ssh_host_*',
  'mkdir -p -m 700 /root/.ssh',
  "printf '%s\\n' 'Managed by drover' 'Host:  debian (debian)' 'Owner: ops-team' > /etc/motd",
  'mkdir -p -m 755 /var/lib/drover-demo && touch /var/lib/drover-demo/motd-changed',
  "printf 'host=debian\\ndistribution=Debian 12\\ngroups=images\\n' > /etc/drover-demo.conf",
  "grep -q '^MANAGED_BY=' /etc/drover-demo.env 2>/dev/null || echo MANAGED_BY=drover >> /etc/drover-demo.env",
  'apt-get clean',
  'rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log',
].join(' && ');

function row(
  workload: string,
  label: string,
  m: Measurement,
  ok: boolean,
  extra: Record<string, number | string> = {},
): Row {
  const r: Row = {
    workload,
    tool: label,
    hosts: 1,
    runs: 1,
    wallMs: m.wallMs,
    cpuMs: m.cpuMs,
    peakRssKb: m.peakRssKb,
    peakFds: m.peakFds,
    extra,
  };
  if (!ok)
    r.note = `did not finish: exit ${m.code} (${(m.stderr || m.stdout).trim().split('\n').slice(-1)[0] ?? ''})`;
  return r;
}

function imageBytes(layout: string): number {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  const blob = (d: string) => join(layout, 'blobs', 'sha256', d.split(':')[1]!);
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), 'utf8')) as {
    layers: { size: number }[];
  };
  return manifest.layers.reduce((n, l) => n + l.size, 0);
}

export async function benchBuildRows(log: (s: string) => void = () => undefined): Promise<Row[]> {
  const base = join(repoRoot, '.lab', 'bench-build');
  await cleanupStale(base).catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
  const buildDir = join(base, 'drover');
  const rows: Row[] = [];
  const drover = (args: string[]) =>
    measure(
      [
        process.execPath,
        droverCli,
        'build',
        '-build-dir',
        buildDir,
        ...args,
        join(repoRoot, 'images/base.yml'),
      ],
      {
        cwd: repoRoot,
        env: { ...process.env, NO_COLOR: '1' },
        timeoutMs: 900_000,
      },
    );
  const digest = (m: Measurement) => /--> base\.debian: (sha256:[0-9a-f]{64})/.exec(m.stdout)?.[1];
  try {
    log('build: drover cold (mmdebstrap, base layer, provisioning, verify, archives)');
    const cold = await drover([]);
    const layout = join(buildDir, 'output', 'base.debian');
    const size = cold.code === 0 ? imageBytes(layout) : 0;
    rows.push(
      row('image build (cold)', 'drover', cold, cold.code === 0, { 'image MB': +(size / 1e6).toFixed(1) }),
    );
    log('build: drover warm (every step cached)');
    const warm = await drover([]);
    const same = digest(warm) !== undefined && digest(warm) === digest(cold);
    rows.push(
      row('image build (warm)', 'drover', warm, warm.code === 0 && /skipped \(cached\)/.test(warm.stdout), {
        'same digest': same ? 'yes' : 'NO',
      }),
    );
    log('build: drover re-provisioned (-force: base cached, provisioning and verify rerun)');
    const forced = await drover(['-force']);
    rows.push(
      row('image build (-force)', 'drover', forced, forced.code === 0, {
        'same digest': digest(forced) === digest(cold) ? 'yes' : 'NO',
      }),
    );

    const hand = join(base, 'by-hand');
    const script = [
      'set -e',
      `mkdir -p ${hand}`,
      `mmdebstrap --quiet --mode=root --variant=minbase --include=openssh-server bookworm ${hand}/rootfs`,
      `chroot ${hand}/rootfs /bin/sh -c "$PROVISION"`,
      `tar --sort=name --numeric-owner --mtime=@0 --clamp-mtime -C ${hand}/rootfs -cf - . | gzip -n -6 > ${hand}/rootfs.tar.gz`,
    ].join('\n');
    log('build: by hand (mmdebstrap + chroot + tar | gzip)');
    const byHand = await measure(['bash', '-c', script], {
      env: { ...process.env, PROVISION: BY_HAND_PROVISION },
      timeoutMs: 900_000,
    });
    const handSize = byHand.code === 0 ? statSync(join(hand, 'rootfs.tar.gz')).size : 0;
    const r = row('image build (cold)', 'by hand: mmdebstrap+chroot+tar', byHand, byHand.code === 0, {
      'image MB': +(handSize / 1e6).toFixed(1),
    });
    if (byHand.code === 0) r.note = 'no verify, no OCI layout or archives, no cache: a rerun costs the same';
    rows.push(r);
  } finally {
    await cleanupStale(base).catch(() => undefined);
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchBuildRows((s) => process.stderr.write(`${s}\n`));
  for (const r of rows)
    process.stdout.write(
      `${r.workload.padEnd(22)} ${r.tool.padEnd(32)} ${((r.wallMs ?? 0) / 1000).toFixed(1).padStart(7)} s  cpu ${((r.cpuMs ?? 0) / 1000).toFixed(1)} s  rss ${Math.round((r.peakRssKb ?? 0) / 1024)} MB  ${JSON.stringify(r.extra ?? {})}${r.note ? `  (${r.note})` : ''}\n`,
    );
}
