/**
 * System, package, network and command module scenarios (test/e2e/modules-corpus.test.ts).
 * Every scenario has its own names and paths: in check mode no task sees another's changes.
 *
 * Fleet hosts share this machine's kernel and network namespace: sysctl runs with
 * reload=no, `mount` edits fstab only (state=present), HTTP comes from a server in the test
 * process on 127.0.0.1 (HTTP_PORT, in this suite's port range 25100-25199).
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskResult } from '../../../modules/types.js';
import type { Scenario } from './harness.js';

export const HTTP_PORT = 25150;
const URL = `http://127.0.0.1:${HTTP_PORT}`;
export const PAYLOAD = 'payload from the controller\n';
const PAYLOAD_SHA256 = createHash('sha256').update(PAYLOAD).digest('hex');

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDroverCorpusKeyxxxxxxxxxxxxxxxxxxxxxxxxx corpus@test';
const KEY2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDroverCorpusKeyTwoxxxxxxxxxxxxxxxxxxxxxx corpus2@test';
const HOSTKEY =
  'git.corpus.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDroverCorpusHostKeyxxxxxxxxxxxxxxxxx';

/** A sysv init script for NAME: `start` runs a sleeping daemon, `status` checks its pid. */
export const sysvInitScript = (name: string) => `#!/bin/sh
### BEGIN INIT INFO
# Provides:          ${name}
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: drover e2e demo daemon
### END INIT INFO
PIDFILE=/run/${name}.pid
case "$1" in
  start) sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > $PIDFILE ;;
  stop) [ -f $PIDFILE ] && kill "$(cat $PIDFILE)" 2>/dev/null; rm -f $PIDFILE ;;
  restart|reload) $0 stop; $0 start ;;
  status) [ -f $PIDFILE ] && kill -0 "$(cat $PIDFILE)" 2>/dev/null ;;
  *) exit 3 ;;
esac
`;

/** A .deb built on the host with dpkg-deb (no network). */
const deb = (name: string, dir: string) =>
  `mkdir -p /srv/build/${name}/DEBIAN /srv/build/${name}/usr/share/${name} ${dir}
printf 'Package: ${name}\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: drover <d@example.test>\\nDescription: drover e2e package\\n' > /srv/build/${name}/DEBIAN/control
echo ${name} > /srv/build/${name}/usr/share/${name}/README
dpkg-deb -Zgzip --build /srv/build/${name} ${dir}/${name}_1.0_all.deb >/dev/null`;

/** A local apt repository (file:) with one package, known to apt without touching other lists. */
const LOCAL_REPO = `${deb('drover-repo-pkg', '/srv/repo')}
${deb('drover-pkg-generic', '/srv/repo')}
(cd /srv/repo && dpkg-scanpackages . /dev/null 2>/dev/null > Packages)
echo 'deb [trusted=yes] file:/srv/repo ./' > /etc/apt/sources.list.d/drover-local.list
apt-get update -qq -o Dir::Etc::sourcelist=sources.list.d/drover-local.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 >/dev/null
# a fresh binary cache on the host: every later apt-get would rebuild it in memory (seconds each)
apt-cache gencaches >/dev/null`;

/** A wheel made by hand (zip + metadata): pip installs it offline from --find-links. */
const WHEEL = `mkdir -p /srv/wheels && cd /srv/wheels && /usr/bin/python3 - <<'PY'
import zipfile
w = zipfile.ZipFile('drover_demo-1.0-py3-none-any.whl', 'w')
w.writestr('drover_demo/__init__.py', 'VERSION = "1.0"\\n')
w.writestr('drover_demo-1.0.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: drover-demo\\nVersion: 1.0\\n')
w.writestr('drover_demo-1.0.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: hand\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')
w.writestr('drover_demo-1.0.dist-info/RECORD', '')
w.close()
PY`;

// Fixed dates: both twins make the same commit, so the shas in the diffs agree.
const GIT_REPO = `export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
git init -q --bare -b main /srv/git/repo.git
git clone -q /srv/git/repo.git /srv/git/work 2>/dev/null
cd /srv/git/work && echo one > f && git add f && git -c user.name=t -c user.email=t@x commit -q -m one && git push -q origin main 2>/dev/null`;

const HOSTNAMECTL = `#!/bin/sh
# stand-in hostnamectl: the static name in /etc/hostname, the transient one through hostname(1)
mode=; cmd=; name=
for a in "$@"; do
  case $a in --transient) mode=t ;; --static) mode=s ;; --pretty) ;; status|set-hostname) cmd=$a ;; *) name=$a ;; esac
done
case $cmd in
  status) if [ "$mode" = s ]; then cat /etc/hostname; else hostname; fi ;;
  set-hostname)
    [ "$mode" = t ] || printf '%s\\n' "$name" > /etc/hostname
    [ "$mode" = s ] || hostname "$name" ;;
  *) echo "stand-in hostnamectl: $*" >&2; exit 1 ;;
esac
`;

/** The package's dpkg status and version. */
const dpkgStatus = (pkg: string) => `dpkg-query -W -f='\${Status} \${Version}\\n' ${pkg}`;

/** A clone at the first commit, then a second commit pushed to the bare repository. */
const GIT_UPDATE = `export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
git init -q --bare -b main /srv/gitu/repo.git
git clone -q /srv/gitu/repo.git /srv/gitu/work 2>/dev/null
cd /srv/gitu/work && echo one > f && git add f && git -c user.name=t -c user.email=t@x commit -q -m one && git push -q origin main 2>/dev/null
git clone -q /srv/gitu/repo.git /opt/corpus-update
echo two > f && git -c user.name=t -c user.email=t@x commit -q -am two && git push -q origin main 2>/dev/null`;

const check = (cond: boolean, what: string, r: TaskResult) => {
  if (!cond) throw new Error(`${what}: ${JSON.stringify(r).slice(0, 400)}`);
};

export const SYSTEM_SCENARIOS: Scenario[] = [
  // accounts
  {
    id: 'group',
    module: 'group',
    args: { name: 'corpusgrp', gid: 3400 },
    expect: 'getent group corpusgrp',
    contains: ['corpusgrp:x:3400:'],
  },
  {
    id: 'user',
    module: 'user',
    args: { name: 'corpususer', uid: 3401, groups: ['users'], shell: '/bin/sh', comment: "Corpus O'User $x" },
    expect: 'getent passwd corpususer; id -Gn corpususer; ls -d /home/corpususer',
    contains: ["corpususer:x:3401:3401:Corpus O'User $x:/home/corpususer:/bin/sh"],
  },
  {
    id: 'user absent',
    module: 'user',
    args: { name: 'corpusgone', state: 'absent', remove: true },
    setup: 'useradd -m -u 3402 corpusgone',
    expect: 'getent passwd corpusgone; ls -d /home/corpusgone 2>&1 | sed "s/.*: //"',
    contains: ['No such file or directory'],
  },
  {
    id: 'authorized_key',
    module: 'authorized_key',
    args: { user: 'drover', key: KEY, key_options: 'no-pty' },
    expect:
      'stat -c "%a %U" /home/drover/.ssh /home/drover/.ssh/authorized_keys; cat /home/drover/.ssh/authorized_keys',
    contains: [`no-pty ${KEY}`],
  },
  {
    id: 'authorized_key absent',
    module: 'authorized_key',
    args: { user: 'drover', key: KEY2, state: 'absent' },
    setup: `mkdir -p -m 700 /home/drover/.ssh; echo '${KEY2}' >> /home/drover/.ssh/authorized_keys; chown -R drover: /home/drover/.ssh`,
    expect: 'grep -c corpus2 /home/drover/.ssh/authorized_keys || true',
    contains: ['0'],
  },
  {
    id: 'group absent',
    module: 'group',
    args: { name: 'corpusold', state: 'absent' },
    setup: 'groupadd -g 3405 corpusold',
    expect: 'getent group corpusold || echo gone',
    contains: ['gone'],
  },
  {
    id: 'cron file',
    module: 'cron',
    args: {
      name: 'corpus job',
      job: 'echo "$HOME" > /dev/null',
      minute: '*/5',
      cron_file: 'corpus',
      user: 'root',
    },
    expect: 'cat /etc/cron.d/corpus',
    contains: ['#Ansible: corpus job\n*/5 * * * * root echo "$HOME" > /dev/null'],
    // ansible-core's cron module wants a `crontab` binary even for cron_file (it never runs it
    // then); cron is not installed here, so a no-op stand-in satisfies the lookup on both hosts.
    setup: "printf '#!/bin/sh\\nexit 0\\n' > /usr/local/bin/crontab; chmod 755 /usr/local/bin/crontab",
  },
  {
    // ansible-core 2.14 sets the hostname with hostnamectl (also for use=debian); there is no
    // systemd here, so both tools drive a stand-in hostnamectl (static name in /etc/hostname,
    // transient through hostname(1)). drover's /etc/hostname strategy (use=debian without
    // systemd) is tested in test/e2e/modules-system.test.ts.
    id: 'hostname (use=systemd, stand-in hostnamectl)',
    module: 'hostname',
    args: { name: 'corpus.example.test', use: 'systemd' },
    setup: `cat > /usr/local/bin/hostnamectl <<'EOF'\n${HOSTNAMECTL}EOF\nchmod 755 /usr/local/bin/hostnamectl`,
    expect: 'hostname; cat /etc/hostname',
    contains: ['corpus.example.test\ncorpus.example.test'],
  },

  {
    id: 'sysctl (file only: hosts share the kernel)',
    module: 'sysctl',
    args: { name: 'vm.swappiness', value: '13', sysctl_file: '/etc/sysctl.d/90-corpus.conf', reload: false },
    expect: 'cat /etc/sysctl.d/90-corpus.conf',
    contains: ['vm.swappiness=13'],
  },
  {
    id: 'known_hosts',
    module: 'known_hosts',
    args: { name: 'git.corpus.example', key: HOSTKEY, path: '/etc/ssh/ssh_known_hosts' },
    expect: 'cat /etc/ssh/ssh_known_hosts',
    contains: [HOSTKEY],
  },
  {
    id: 'mount (fstab only)',
    module: 'mount',
    args: { path: '/mnt/corpus data', src: 'tmpfs', fstype: 'tmpfs', opts: 'size=1m', state: 'present' },
    expect: 'cat /etc/fstab; grep -c corpus /proc/mounts',
    contains: ['tmpfs /mnt/corpus\\040data tmpfs size=1m 0 0'],
    diffGap: 'drover shows the fstab edit as a diff; ansible.posix.mount returns none',
  },
  // read-only / waiting modules: never changed
  {
    id: 'getent',
    module: 'getent',
    args: { database: 'passwd', key: 'drover' },
    check: 'ok',
    run: 'ok',
    result: (r) =>
      check((r.ansible_facts as Record<string, unknown>)?.getent_passwd !== undefined, 'facts', r),
  },
  {
    id: 'wait_for path',
    module: 'wait_for',
    args: { path: '/etc/hostname', timeout: 5 },
    check: 'skipped',
    run: 'ok',
  },
  {
    id: 'wait_for port (the controller HTTP server)',
    module: 'wait_for',
    args: { host: '127.0.0.1', port: HTTP_PORT, timeout: 5 },
    check: 'skipped',
    run: 'ok',
  },
  {
    id: 'wait_for search_regex',
    module: 'wait_for',
    args: { path: '/srv/wait/ready', search_regex: 'up (\\d+)', timeout: 5 },
    setup: 'mkdir -p /srv/wait; echo "up 42" > /srv/wait/ready',
    check: 'skipped',
    run: 'ok',
    result: (r) => check(JSON.stringify(r.match_groups) === '["42"]', 'match_groups', r),
  },
  // services (sysv: /etc/init.d + update-rc.d; there is no systemd as PID 1 here)
  {
    id: 'service (sysv) started and enabled',
    module: 'service',
    args: { name: 'corpus-demo', state: 'started', enabled: true },
    setup: `cat > /etc/init.d/corpus-demo <<'EOF'\n${sysvInitScript('corpus-demo')}EOF\nchmod 755 /etc/init.d/corpus-demo`,
    expect: 'ls /etc/rc2.d | grep corpus; /etc/init.d/corpus-demo status && echo running',
    contains: ['running'],
  },
  // packages (a real package from the Debian mirror, sl, is installed and purged with the
  // same check/run/rerun steps and a twin oracle in test/e2e/modules-system.test.ts)
  {
    id: 'apt deb (a local .deb made with dpkg-deb)',
    module: 'apt',
    args: { deb: '/srv/debs/drover-deb-pkg_1.0_all.deb' },
    setup: deb('drover-deb-pkg', '/srv/debs'),
    expect: `${dpkgStatus('drover-deb-pkg')}; cat /usr/share/drover-deb-pkg/README`,
    contains: ['install ok installed 1.0'],
  },
  {
    id: 'apt absent (installed from a local .deb)',
    module: 'apt',
    args: { name: 'drover-gone-pkg', state: 'absent', purge: true },
    setup: `${deb('drover-gone-pkg', '/srv/debs')}\ndpkg -i /srv/debs/drover-gone-pkg_1.0_all.deb >/dev/null`,
    expect: `${dpkgStatus('drover-gone-pkg')} 2>&1 | sed 's/^dpkg-query: //'`,
    contains: ['no packages found matching drover-gone-pkg'],
  },
  {
    id: 'apt name from a local file: repository',
    module: 'apt',
    args: { name: 'drover-repo-pkg', state: 'present' },
    setup: LOCAL_REPO,
    expect: dpkgStatus('drover-repo-pkg'),
    contains: ['install ok installed 1.0'],
  },
  {
    id: 'package (state defaults to present)',
    module: 'package',
    args: { name: 'drover-pkg-generic' },
    setup: LOCAL_REPO,
    expect: dpkgStatus('drover-pkg-generic'),
    contains: ['install ok installed 1.0'],
  },
  {
    id: 'apt_repository',
    module: 'apt_repository',
    args: { repo: 'deb [trusted=yes] file:/srv/repo2 ./', filename: 'corpus-extra', update_cache: false },
    expect: 'cat /etc/apt/sources.list.d/corpus-extra.list',
    contains: ['deb [trusted=yes] file:/srv/repo2 ./'],
  },
  {
    id: 'pip (offline wheel into a venv)',
    module: 'pip',
    args: {
      name: 'drover-demo',
      virtualenv: '/opt/corpus-venv',
      virtualenv_command: '/usr/bin/python3 -m venv',
      extra_args: '--no-index --find-links /srv/wheels',
    },
    setup: WHEEL,
    expect: '/opt/corpus-venv/bin/python -c "import drover_demo; print(drover_demo.VERSION)"',
    contains: ['1.0'],
  },
  // network
  {
    id: 'git (a local bare repository)',
    module: 'git',
    args: { repo: '/srv/git/repo.git', dest: '/opt/corpus-checkout', version: 'main' },
    setup: GIT_REPO,
    expect: 'cat /opt/corpus-checkout/f; git -C /opt/corpus-checkout rev-parse --abbrev-ref HEAD',
    contains: ['one'],
  },
  {
    id: 'git update (diff between the two commits)',
    module: 'git',
    args: { repo: '/srv/gitu/repo.git', dest: '/opt/corpus-update', version: 'main' },
    setup: GIT_UPDATE,
    expect: 'cat /opt/corpus-update/f; git -C /opt/corpus-update log --format=%s',
    contains: ['two\n'],
  },
  {
    id: 'get_url (controller HTTP server, checksum, mode)',
    module: 'get_url',
    args: {
      url: `${URL}/payload.txt`,
      dest: '/srv/dl/payload.txt',
      checksum: `sha256:${PAYLOAD_SHA256}`,
      mode: '0640',
    },
    setup: 'mkdir -p /srv/dl',
    expect: 'stat -c %a /srv/dl/payload.txt; cat /srv/dl/payload.txt',
    contains: ['640', PAYLOAD],
  },
  {
    id: 'get_url into a directory',
    module: 'get_url',
    args: { url: `${URL}/payload.txt`, dest: '/srv/dldir/' },
    setup: 'mkdir -p /srv/dldir',
    expect: 'ls /srv/dldir; cat /srv/dldir/payload.txt',
    contains: [`payload.txt\n${PAYLOAD}`],
  },
  {
    id: 'uri GET json (no check mode, as Ansible)',
    module: 'uri',
    args: { url: `${URL}/api.json`, return_content: true, follow_redirects: false },
    check: 'skipped',
    run: 'ok',
    result: (r) => check((r.json as { name?: string })?.name === 'drover' && r.status === 200, 'json', r),
  },
  {
    id: 'uri POST body_format json, status_code list',
    module: 'uri',
    args: {
      url: `${URL}/echo`,
      method: 'POST',
      body_format: 'json',
      body: { a: 1 },
      status_code: [200, 201],
    },
    check: 'skipped',
    run: 'ok',
    result: (r) => check(r.status === 201 && (r.json as { a?: number })?.a === 1, 'echo', r),
  },
  // commands: check mode runs nothing unless creates/removes decide
  {
    id: 'ping',
    module: 'ping',
    args: {},
    check: 'ok',
    run: 'ok',
  },
  {
    id: 'raw',
    module: 'raw',
    args: { _raw_params: 'touch /srv/raw-ran' },
    expect: 'ls /srv/raw-ran',
    check: 'skipped',
    rerun: 'changed',
  },
  {
    id: 'script with creates (a controller script)',
    module: 'script',
    args: { cmd: 'files/hello.sh corpus', creates: '/srv/script-ran' },
    expect: 'cat /srv/script-ran',
    contains: ['hello corpus'],
  },
  {
    id: 'command (no creates: skipped in check mode, changes on every run)',
    module: 'command',
    args: { cmd: 'touch /srv/cmd-plain' },
    check: 'skipped',
    rerun: 'changed',
    expect: 'ls /srv/cmd-plain',
  },
  {
    id: 'command creates (missing: would run)',
    module: 'command',
    args: { cmd: 'touch /srv/cmd-created', creates: '/srv/cmd-created' },
    expect: 'ls /srv/cmd-created',
  },
  {
    id: 'command creates (exists: not run)',
    module: 'command',
    args: { cmd: 'touch /srv/cmd-never', creates: '/etc/hostname' },
    check: 'ok',
    run: 'ok',
    expect: 'ls /srv/cmd-never 2>&1 | sed "s/.*: //"',
    contains: ['No such file or directory'],
  },
  {
    id: 'shell removes (exists: would run)',
    module: 'shell',
    args: { cmd: 'rm /srv/cmd-removed && echo gone', removes: '/srv/cmd-removed' },
    setup: 'touch /srv/cmd-removed',
    expect: 'ls /srv/cmd-removed 2>&1 | sed "s/.*: //"',
    contains: ['No such file or directory'],
  },
];

/** apt_key with a key made on the controller (the same key for both twins). */
export function aptKeyScenario(armored: string, fingerprint: string): Scenario {
  return {
    id: 'apt_key (data, keyring file)',
    module: 'apt_key',
    args: { id: fingerprint, data: armored, keyring: '/etc/apt/trusted.gpg.d/corpus.gpg' },
    expect: `gpg --no-default-keyring --keyring /etc/apt/trusted.gpg.d/corpus.gpg --list-keys --with-colons 2>/dev/null | grep '^fpr'`,
    contains: [fingerprint],
  };
}

/**
 * A stand-in `systemctl` (fleet hosts run sshd as PID 1, not systemd): unit state lives in
 * files under /var/lib/standin-systemd, so it survives the reboot scenario. Both drover's and
 * Ansible's systemd modules find it first on PATH (/usr/local/bin).
 */
const SYSTEMCTL = `#!/bin/sh
S=/var/lib/standin-systemd
[ "$1" = --no-block ] && shift
cmd=$1; u=$2
known() { [ -f "$S/units/$u" ]; }
case "$cmd" in
  daemon-reload|daemon-reexec) echo reloaded > $S/daemon ;;
  show) echo "Id=$u"; if known; then echo LoadState=loaded; echo "ActiveState=$(cat $S/$u.active 2>/dev/null || echo inactive)"; echo "UnitFileState=$(cat $S/$u.enabled 2>/dev/null || echo disabled)"; else echo LoadState=not-found; echo ActiveState=inactive; fi ;;
  is-active) a=$(cat $S/$u.active 2>/dev/null || echo inactive); echo "$a"; [ "$a" = active ] ;;
  is-enabled) known || { echo "Failed to get unit file state for $u: No such file or directory" >&2; exit 1; }; e=$(cat $S/$u.enabled 2>/dev/null || echo disabled); echo "$e"; [ "$e" = enabled ] ;;
  start|restart|reload|try-restart|reload-or-restart) known || { echo "Failed to $cmd $u: Unit $u not found." >&2; exit 5; }; echo active > $S/$u.active ;;
  stop) echo inactive > $S/$u.active ;;
  enable) echo enabled > $S/$u.enabled ;;
  disable) echo disabled > $S/$u.enabled ;;
  *) echo "stand-in systemctl: $cmd is not supported" >&2; exit 1 ;;
esac
`;

export const REBOOT_SCENARIOS: Scenario[] = [
  {
    id: 'systemd (stand-in systemctl): daemon_reload, started, enabled',
    module: 'systemd',
    args: { name: 'corpus-web.service', state: 'started', enabled: true, daemon_reload: true },
    setup: `mkdir -p /var/lib/standin-systemd/units; touch /var/lib/standin-systemd/units/corpus-web.service
cat > /usr/local/bin/systemctl <<'EOF'\n${SYSTEMCTL}EOF\nchmod 755 /usr/local/bin/systemctl`,
    expect: 'cd /var/lib/standin-systemd && cat corpus-web.service.active corpus-web.service.enabled daemon',
    contains: ['active\nenabled\nreloaded'],
  },
  {
    id: 'systemd (stand-in systemctl): stopped when running',
    module: 'systemd',
    args: { name: 'corpus-db.service', state: 'stopped' },
    setup:
      'mkdir -p /var/lib/standin-systemd/units; touch /var/lib/standin-systemd/units/corpus-db.service; echo active > /var/lib/standin-systemd/corpus-db.service.active',
    expect: 'cat /var/lib/standin-systemd/corpus-db.service.active',
    contains: ['inactive'],
  },
  {
    // Fleet hosts share the machine's kernel: "rebooting" one ends its PID 1 (sshd, which
    // takes the whole host with it) and the test boots it again (runScenarios'
    // restartHosts), so the boot id is the start time of the host's PID 1. Every run reboots.
    id: 'reboot (reconnect after the host restarted)',
    module: 'reboot',
    args: {
      reboot_command: 'kill -TERM 1',
      boot_time_command: "cut -d' ' -f22 /proc/1/stat",
      reboot_timeout: 60,
    },
    rerun: 'changed',
    result: (r) => check(r.rebooted === true && typeof r.elapsed === 'number', 'rebooted', r),
  },
];

/** Controller-side files of the system suite: the script module's script. */
export function systemController(work: string): void {
  mkdirSync(join(work, 'files'), { recursive: true });
  writeFileSync(join(work, 'files/hello.sh'), '#!/bin/sh\necho "hello $1" > /srv/script-ran\n');
  chmodSync(join(work, 'files/hello.sh'), 0o755);
}
