/**
 * Fact gathering without Python: one POSIX sh script reads /etc/os-release, /proc, uname,
 * id, date and ip, prints tagged lines, and the controller shapes them into Ansible's
 * fact names (ansible_facts.distribution, default_ipv4, date_time, mounts, ...).
 */
import type { Become, Connection } from '../transport/types.js';
import { fnmatchRegExp } from '../util/fnmatch.js';

export const FACTS_SCRIPT = String.raw`
LC_ALL=C; export LC_ALL
k() { printf '@K%s=%s\n' "$1" "$2"; }
k system "$(uname -s 2>/dev/null)"
k kernel "$(uname -r 2>/dev/null)"
k kernel_version "$(uname -v 2>/dev/null)"
k machine "$(uname -m 2>/dev/null)"
k nodename "$(uname -n 2>/dev/null)"
k hostname_full "$(cat /proc/sys/kernel/hostname 2>/dev/null || hostname 2>/dev/null)"
k fqdn "$(hostname -f 2>/dev/null || hostname 2>/dev/null)"
if [ -r /etc/os-release ]; then sed -n 's/^\([A-Z_]*\)=\(.*\)$/@O\1=\2/p' /etc/os-release; fi
[ -r /etc/debian_version ] && k debian_version "$(cat /etc/debian_version)"
[ -r /etc/redhat-release ] && k redhat_release "$(cat /etc/redhat-release)"
[ -r /etc/alpine-release ] && k alpine_release "$(cat /etc/alpine-release)"
[ -r /etc/lsb-release ] && sed -n 's/^\([A-Z_]*\)=\(.*\)$/@L\1=\2/p' /etc/lsb-release
command -v lsb_release >/dev/null 2>&1 && lsb_release -a 2>/dev/null | sed -n 's/^\(Distributor ID\|Description\|Release\|Codename\|LSB Version\):[[:space:]]*\(.*\)$/@B\1=\2/p'
if [ -r /proc/meminfo ]; then sed -n 's/^\(MemTotal\|MemFree\|SwapTotal\|SwapFree\|MemAvailable\|Buffers\|Cached\):[ ]*\([0-9]*\) kB$/@m\1=\2/p' /proc/meminfo; fi
if [ -r /proc/cpuinfo ]; then
  k processor_vcpus "$(grep -c '^processor' /proc/cpuinfo)"
  k processor_model "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
  k processor_count "$(sed -n 's/^physical id[^:]*: //p' /proc/cpuinfo | sort -u | wc -l)"
  k processor_cores "$(sed -n 's/^cpu cores[^:]*: //p' /proc/cpuinfo | head -n 1)"
fi
k init "$(cat /proc/1/comm 2>/dev/null)"
[ -d /run/systemd/system ] && k systemd_booted 1
for m in apt-get dnf yum apk zypper pacman; do if command -v "$m" >/dev/null 2>&1; then k pkg_mgr "$m"; break; fi; done
k user_id "$(id -un 2>/dev/null)"
k user_uid "$(id -u 2>/dev/null)"
k user_gid "$(id -g 2>/dev/null)"
k user_entry "$(getent passwd "$(id -un 2>/dev/null)" 2>/dev/null)"
k date "$(date '+%Y-%m-%d|%H:%M:%S|%s|%Z|%z|%A|%u|%V|%B|%b|%a|%j|%w|%U|%N')"
k utc_date "$(date -u '+%Y-%m-%dT%H:%M:%SZ|%Y%m%dT%H%M%S')"
k uptime "$(cut -d' ' -f1 /proc/uptime 2>/dev/null)"
k python "$(command -v python3 2>/dev/null)"
if command -v ip >/dev/null 2>&1; then
  ip -4 route show default 2>/dev/null | head -n 1 | sed 's/^/@R/'
  ip -4 -o addr show 2>/dev/null | sed 's/^/@A/'
  ip -6 -o addr show 2>/dev/null | sed 's/^/@6/'
fi
for i in /sys/class/net/*; do [ -e "$i" ] && printf '@I%s %s\n' "$(basename "$i")" "$(cat "$i/address" 2>/dev/null)"; done
sed 's/^/@M/' /proc/mounts 2>/dev/null
env | sed 's/^/@E/'
`;

function osFamily(id: string, like: string): string {
  const ids = [id, ...like.split(/\s+/)].map((s) => s.toLowerCase());
  const map: [string[], string][] = [
    [['debian', 'ubuntu', 'linuxmint', 'raspbian', 'devuan', 'kali', 'pop'], 'Debian'],
    [['rhel', 'centos', 'fedora', 'rocky', 'almalinux', 'ol', 'amzn', 'scientific', 'virtuozzo'], 'RedHat'],
    [['alpine'], 'Alpine'],
    [['arch', 'manjaro', 'archarm'], 'Archlinux'],
    [['sles', 'opensuse', 'opensuse-leap', 'opensuse-tumbleweed', 'suse'], 'Suse'],
    [['gentoo'], 'Gentoo'],
  ];
  for (const [names, fam] of map) if (ids.some((i) => names.includes(i))) return fam;
  return id ? id.charAt(0).toUpperCase() + id.slice(1) : 'Linux';
}

function distributionName(id: string, name: string): string {
  const known: Record<string, string> = {
    debian: 'Debian',
    ubuntu: 'Ubuntu',
    centos: 'CentOS',
    rhel: 'RedHat',
    fedora: 'Fedora',
    rocky: 'Rocky',
    almalinux: 'AlmaLinux',
    alpine: 'Alpine',
    arch: 'Archlinux',
    amzn: 'Amazon',
    opensuse: 'openSUSE',
    'opensuse-leap': 'openSUSE Leap',
    sles: 'SLES',
  };
  return known[id] ?? (name || id || 'Linux');
}

function unquote(v: string): string {
  const t = v.trim();
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) return t.slice(1, -1);
  return t;
}

function prefixToNetmask(prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (mask >>> s) & 255).join('.');
}

function networkOf(addr: string, prefix: number): string {
  const a = addr.split('.').map(Number);
  const n = ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (n & mask) >>> 0;
  return [24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.');
}

/** Turns the script's tagged lines into Ansible facts (without the ansible_ prefix). */
export function parseFacts(out: string): Record<string, unknown> {
  const k: Record<string, string> = {};
  const os: Record<string, string> = {};
  const lsb: Record<string, string> = {};
  const lsbBin: Record<string, string> = {};
  const mem: Record<string, number> = {};
  const env: Record<string, string> = {};
  const mounts: Record<string, unknown>[] = [];
  const v4: { iface: string; address: string; prefix: number; broadcast?: string }[] = [];
  const v6: { iface: string; address: string; prefix: number; scope: string }[] = [];
  const macs: Record<string, string> = {};
  let route: string | undefined;
  for (const line of out.split('\n')) {
    const tag = line.slice(0, 2);
    const rest = line.slice(2);
    const eq = rest.indexOf('=');
    switch (tag) {
      case '@K':
        if (eq > 0) k[rest.slice(0, eq)] = rest.slice(eq + 1);
        break;
      case '@O':
        if (eq > 0) os[rest.slice(0, eq)] = unquote(rest.slice(eq + 1));
        break;
      case '@L':
        if (eq > 0) lsb[rest.slice(0, eq)] = unquote(rest.slice(eq + 1));
        break;
      case '@B': {
        // `lsb_release -a`, which Ansible prefers to /etc/lsb-release.
        const key = {
          'Distributor ID': 'id',
          Description: 'description',
          Release: 'release',
          Codename: 'codename',
          'LSB Version': 'release',
        }[rest.slice(0, eq)];
        if (eq > 0 && key) lsbBin[key] = rest.slice(eq + 1).trim();
        break;
      }
      case '@m':
        if (eq > 0) mem[rest.slice(0, eq)] = Number(rest.slice(eq + 1));
        break;
      case '@E':
        if (eq > 0) env[rest.slice(0, eq)] = rest.slice(eq + 1);
        break;
      case '@R':
        route = rest;
        break;
      case '@A': {
        const m = rest.match(/^\d+:\s+(\S+)\s+inet\s+([\d.]+)\/(\d+)(?:\s+brd\s+([\d.]+))?/);
        if (m) {
          const e: (typeof v4)[number] = { iface: m[1]!, address: m[2]!, prefix: Number(m[3]) };
          if (m[4]) e.broadcast = m[4];
          v4.push(e);
        }
        break;
      }
      case '@6': {
        const m = rest.match(/^\d+:\s+(\S+)\s+inet6\s+([0-9a-f:]+)\/(\d+)\s+scope\s+(\S+)/);
        if (m) v6.push({ iface: m[1]!, address: m[2]!, prefix: Number(m[3]), scope: m[4]! });
        break;
      }
      case '@I': {
        const [name, mac] = rest.split(' ');
        if (name) macs[name] = mac ?? '';
        break;
      }
      case '@M': {
        const [device, mount, fstype, options] = rest.split(' ');
        if (mount) mounts.push({ device, mount: mount.replace(/\\040/g, ' '), fstype, options });
        break;
      }
    }
  }
  const facts: Record<string, unknown> = {};
  const hostnameFull = k.hostname_full ?? k.nodename ?? '';
  facts.hostname = hostnameFull.split('.')[0];
  facts.nodename = k.nodename;
  facts.fqdn = k.fqdn;
  facts.domain = (k.fqdn ?? '').includes('.') ? k.fqdn!.slice(k.fqdn!.indexOf('.') + 1) : '';
  facts.system = k.system;
  facts.kernel = k.kernel;
  facts.kernel_version = k.kernel_version;
  facts.machine = k.machine;
  facts.architecture = k.machine;
  facts.userspace_bits = k.machine?.includes('64') ? '64' : '32';
  const id = (os.ID ?? '').toLowerCase();
  facts.os_family = osFamily(id, os.ID_LIKE ?? '');
  facts.distribution = distributionName(id, os.NAME ?? '');
  let version = os.VERSION_ID ?? '';
  if (id === 'debian' && k.debian_version && /^\d/.test(k.debian_version)) version = k.debian_version;
  if (id === 'alpine' && k.alpine_release) version = k.alpine_release;
  facts.distribution_version = version;
  facts.distribution_major_version = version.split('.')[0] ?? '';
  facts.distribution_release = os.VERSION_CODENAME ?? lsb.DISTRIB_CODENAME ?? '';
  facts.distribution_file_variety = facts.os_family;
  facts.lsb = Object.keys(lsbBin).length
    ? {
        ...Object.fromEntries(Object.entries(lsbBin).map(([k, v]) => [k, v.replace(/^["']|["']$/g, '')])),
        ...(lsbBin.release ? { major_release: lsbBin.release.split('.')[0] } : {}),
      }
    : Object.keys(lsb).length
      ? {
          id: lsb.DISTRIB_ID,
          release: lsb.DISTRIB_RELEASE,
          codename: lsb.DISTRIB_CODENAME,
          description: lsb.DISTRIB_DESCRIPTION,
          major_release: lsb.DISTRIB_RELEASE?.split('.')[0],
        }
      : {};
  if (mem.MemTotal !== undefined) {
    facts.memtotal_mb = Math.floor(mem.MemTotal / 1024);
    facts.memfree_mb = Math.floor((mem.MemFree ?? 0) / 1024);
    facts.swaptotal_mb = Math.floor((mem.SwapTotal ?? 0) / 1024);
    facts.swapfree_mb = Math.floor((mem.SwapFree ?? 0) / 1024);
    facts.memory_mb = {
      real: {
        total: facts.memtotal_mb,
        free: facts.memfree_mb,
        used: (facts.memtotal_mb as number) - (facts.memfree_mb as number),
      },
      swap: { total: facts.swaptotal_mb, free: facts.swapfree_mb },
    };
  }
  const vcpus = Number(k.processor_vcpus ?? 0);
  facts.processor_vcpus = vcpus;
  facts.processor_count = Math.max(1, Number(k.processor_count ?? 0));
  facts.processor_cores = Number(k.processor_cores ?? vcpus) || vcpus;
  facts.processor_threads_per_core = 1;
  facts.processor_nproc = vcpus;
  facts.processor = Array.from({ length: vcpus }, (_, i) => [String(i), k.processor_model ?? '']).flat();
  const init = k.init ?? '';
  facts.service_mgr = k.systemd_booted
    ? 'systemd'
    : init === 'systemd'
      ? 'systemd'
      : init === 'init'
        ? 'sysvinit'
        : init || 'service';
  const pkg = k.pkg_mgr === 'apt-get' ? 'apt' : k.pkg_mgr === 'dnf' ? 'dnf' : (k.pkg_mgr ?? 'unknown');
  facts.pkg_mgr = pkg;
  facts.user_id = k.user_id;
  facts.user_uid = Number(k.user_uid);
  facts.user_gid = Number(k.user_gid);
  const pw = (k.user_entry ?? '').split(':');
  facts.user_gecos = pw[4] ?? '';
  facts.user_dir = pw[5] ?? env.HOME ?? '';
  facts.user_shell = pw[6] ?? '';
  facts.env = env;
  const d = (k.date ?? '').split('|');
  const u = (k.utc_date ?? '').split('|');
  if (d.length >= 15) {
    const [
      date,
      time,
      epoch,
      tz,
      tzOff,
      weekday,
      weekdayNum,
      weekNum,
      monthName,
      monthAbbr,
      dayAbbr,
      yday,
      wdayNum0,
      weekNumber,
      nanos,
    ] = d as string[];
    const [year, month, day] = date!.split('-');
    const [hour, minute, second] = time!.split(':');
    const micro = (nanos ?? '000000000').slice(0, 6);
    facts.date_time = {
      year,
      month,
      day,
      hour,
      minute,
      second,
      epoch,
      epoch_int: epoch,
      date,
      time,
      iso8601: u[0],
      iso8601_micro: u[0]?.replace('Z', `.${micro}Z`),
      iso8601_basic: `${u[1]}${micro}`,
      iso8601_basic_short: u[1],
      tz,
      tz_dst: tz,
      tz_offset: tzOff,
      weekday,
      weekday_number: wdayNum0,
      weeknumber: weekNumber,
    };
    // Ansible 2.14 has no monthname/monthabbr/dayabbr/yday yet.
    void monthName;
    void monthAbbr;
    void dayAbbr;
    void yday;
    void weekdayNum;
    void weekNum;
  }
  facts.uptime_seconds = Math.floor(Number(k.uptime ?? 0));
  const addrs = v4.filter((a) => !a.address.startsWith('127.'));
  facts.all_ipv4_addresses = addrs.map((a) => a.address);
  facts.all_ipv6_addresses = v6.filter((a) => a.scope !== 'host').map((a) => a.address);
  facts.interfaces = Object.keys(macs);
  for (const iface of Object.keys(macs)) {
    const a = v4.find((x) => x.iface === iface);
    const entry: Record<string, unknown> = { device: iface, macaddress: macs[iface], active: true };
    if (a)
      entry.ipv4 = {
        address: a.address,
        netmask: prefixToNetmask(a.prefix),
        network: networkOf(a.address, a.prefix),
        prefix: String(a.prefix),
        broadcast: a.broadcast ?? '',
      };
    facts[iface.replace(/[^A-Za-z0-9_]/g, '_')] = entry;
  }
  facts.default_ipv4 = {};
  if (route) {
    const via = route.match(/\bvia\s+([\d.]+)/)?.[1];
    const dev = route.match(/\bdev\s+(\S+)/)?.[1];
    const a = v4.find((x) => x.iface === dev);
    if (dev && a) {
      facts.default_ipv4 = {
        address: a.address,
        alias: dev,
        broadcast: a.broadcast ?? '',
        gateway: via ?? '',
        interface: dev,
        macaddress: macs[dev] ?? '',
        netmask: prefixToNetmask(a.prefix),
        network: networkOf(a.address, a.prefix),
        prefix: String(a.prefix),
        type: 'ether',
      };
    }
  }
  facts.mounts = mounts;
  if (k.python) facts.python = { executable: k.python };
  facts.gather_subset = ['all'];
  facts.module_setup = true;
  return facts;
}

/** Ansible's `filter` for setup: shell-style globs over fact names (with or without ansible_). */
function applyFilter(facts: Record<string, unknown>, filters: string[]): Record<string, unknown> {
  if (filters.length === 0 || filters.includes('*')) return facts;
  const res = filters.map((f) => fnmatchRegExp(f.replace(/^ansible_/, '')));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(facts)) if (res.some((r) => r.test(key))) out[key] = v;
  return out;
}

export async function gatherFacts(
  conn: Connection,
  opts: { subset: string[]; filter: string[]; become?: Become | undefined },
): Promise<Record<string, unknown>> {
  const r = await conn.run(FACTS_SCRIPT, opts.become ? { become: opts.become } : {});
  if (r.rc !== 0 && r.stdout === '') throw new Error(r.stderr.trim() || `facts script exited ${r.rc}`);
  let facts = parseFacts(r.stdout);
  const subset = opts.subset.map((s) => s.trim());
  if (subset.length === 1 && (subset[0] === '!all' || subset[0] === 'min' || subset[0] === '!all,!min')) {
    const min = [
      'hostname',
      'nodename',
      'fqdn',
      'domain',
      'system',
      'kernel',
      'kernel_version',
      'machine',
      'architecture',
      'os_family',
      'distribution',
      'distribution_version',
      'distribution_major_version',
      'distribution_release',
      'user_id',
      'user_uid',
      'user_gid',
      'user_dir',
      'user_shell',
      'env',
      'date_time',
      'pkg_mgr',
      'service_mgr',
      'lsb',
      'python',
    ];
    facts = Object.fromEntries(Object.entries(facts).filter(([key]) => min.includes(key)));
  }
  facts.gather_subset = subset;
  return applyFilter(facts, opts.filter);
}
