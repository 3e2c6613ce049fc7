/**
 * `machine`: a namespaced sshd host (src/machine, the same code that boots the test fleet)
 * from the machine's own `/`, a rootfs directory or an OCI image, listening on
 * 127.0.0.1:PORT. The host outlives `drover infra apply`; its `host.json` in `state_dir`
 * finds it again. Refresh notices a host that died (read -> gone), so the next apply
 * recreates it; delete leaves no process, mount or file.
 */
import { randomBytes } from 'node:crypto';
import { access, constants, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { type OciImage, readOciImage, unpackLayers } from '../../image/index.js';
import { cleanupStale } from '../../machine/cleanup.js';
import { attachHost, bootHost, MachineError, stopHostDir } from '../../machine/host.js';
import { portFree } from '../../machine/ports.js';
import { canonicalPath } from '../../machine/processes.js';
import {
  freeId,
  generateKeyPair,
  hostnameEntries,
  type LayerEntry,
  loginEntries,
  putEntry,
  readOr,
  sshdCommand,
  sshdEntries,
  unlockRootHash,
  withEntries,
} from '../../machine/sshd-layer.js';
import { findHostDirs, readState, removeState } from '../../machine/state.js';
import type { AttrSchema, Attrs, AttrValue, Provider, ProviderContext, ResourceType } from '../provider.js';

export const DEFAULT_PORT_RANGE = '42200-42999';

const attrs: Record<string, AttrSchema> = {
  name: {
    type: 'string',
    optional: true,
    computed: true,
    forceNew: true,
    description: 'short name (default: from the address, machine.web[0] -> web-0)',
  },
  hostname: { type: 'string', optional: true, computed: true, forceNew: true, description: 'default: name' },
  image: { type: 'string', optional: true, forceNew: true, description: 'OCI image layout: oci:DIR:TAG' },
  rootfs: {
    type: 'string',
    optional: true,
    forceNew: true,
    description: 'root filesystem directory (default: the machine’s own /)',
  },
  port: {
    type: 'number',
    optional: true,
    computed: true,
    forceNew: true,
    description: 'sshd port on 127.0.0.1 (default: first free in port_range)',
  },
  port_range: {
    type: 'string',
    optional: true,
    default: DEFAULT_PORT_RANGE,
    description: 'FROM-TO, where a port is picked when none is given',
  },
  user: {
    type: 'string',
    optional: true,
    default: 'root',
    forceNew: true,
    description: 'login user (created with passwordless sudo if the root filesystem lacks it)',
  },
  public_key: {
    type: 'string',
    optional: true,
    computed: true,
    forceNew: true,
    description: 'authorized key (e.g. from ssh_keypair); default: a key pair generated for this machine',
  },
  private_key_path: {
    type: 'string',
    optional: true,
    computed: true,
    description: 'the matching private key file',
  },
  address: { type: 'string', computed: true },
  host_key: { type: 'string', computed: true, description: 'the host’s public ed25519 key' },
  known_hosts_file: {
    type: 'string',
    computed: true,
    description: 'the known_hosts file naming every machine of this infra dir (one per working dir)',
  },
  state_dir: { type: 'string', computed: true },
  id: { type: 'string', computed: true },
};

function text(v: AttrValue | undefined): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return typeof v === 'string' ? v : String(v);
}

function withDefaults(config: Attrs): Attrs {
  const out: Attrs = {};
  for (const [k, s] of Object.entries(attrs)) {
    if (config[k] !== undefined && config[k] !== null) out[k] = config[k];
    else if (s.default !== undefined) out[k] = s.default;
  }
  if (typeof out.port === 'string' && /^\d+$/.test(out.port)) out.port = Number(out.port);
  return out;
}

/** `machine.web[0]` -> `web-0`; `module.app.machine.db["a"]` -> `app-db-a`. */
export function nameFromAddress(address: string): string {
  const parts = address
    .replace(/^data\./, '')
    .split('.')
    .filter((p, i, all) => !(p === 'module' || (i === all.length - 2 && p === 'machine')));
  const name = parts
    .join('-')
    .replace(/\[["']?([^\]"']*)["']?\]/g, '-$1')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  return (name || 'machine').slice(0, 63);
}

export function parsePortRange(spec: string): [number, number] | undefined {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(spec);
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from < 1024 || to > 65535 || from > to) return undefined;
  return [from, to];
}

// Ports handed out by this process and not yet listening: parallel creates must not pick the same one.
const reserved = new Set<number>();

async function pickPort(range: [number, number], address: string): Promise<number> {
  for (let p = range[0]; p <= range[1]; p++) {
    if (reserved.has(p)) continue;
    if (await portFree(p)) {
      reserved.add(p);
      return p;
    }
  }
  throw new MachineError(
    `${address}: no free port on 127.0.0.1 in ${range[0]}-${range[1]}`,
    'widen port_range or destroy machines you no longer need',
  );
}

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;

function validate(config: Attrs): { attribute?: string; message: string }[] {
  const problems: { attribute?: string; message: string }[] = [];
  for (const k of ['name', 'hostname']) {
    const v = config[k];
    if (typeof v === 'string' && !v.includes('{{') && !HOSTNAME.test(v)) {
      problems.push({
        attribute: k,
        message: `${k} "${v}" is not a valid hostname (letters, digits, '-', at most 63)`,
      });
    }
  }
  if (text(config.image) !== undefined && text(config.rootfs) !== undefined) {
    problems.push({
      attribute: 'image',
      message: 'image and rootfs are mutually exclusive: give one (or neither, for the machine’s own /)',
    });
  }
  const image = text(config.image);
  if (image !== undefined && !image.includes('{{') && !/^oci:[^:]+:[^:]+$/.test(image)) {
    problems.push({
      attribute: 'image',
      message: `image "${image}" is not oci:DIR:TAG (an OCI image layout directory and a tag)`,
    });
  }
  const range = text(config.port_range);
  if (range !== undefined && !range.includes('{{') && !parsePortRange(range)) {
    problems.push({
      attribute: 'port_range',
      message: `port_range "${range}" is not FROM-TO with 1024 <= FROM <= TO <= 65535`,
    });
  }
  const port = config.port;
  if (port !== undefined && port !== null && !(typeof port === 'string' && port.includes('{{'))) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1024 || n > 65535)
      problems.push({ attribute: 'port', message: `port ${String(port)} is not an integer in 1024..65535` });
  }
  const user = text(config.user);
  if (user !== undefined && !user.includes('{{') && !USER.test(user)) {
    problems.push({ attribute: 'user', message: `user "${user}" is not a valid user name` });
  }
  return problems;
}

function machinesDir(ctx: ProviderContext): string {
  return join(ctx.workDir, 'machines');
}

/** Unpacks `oci:DIR:TAG` once per image manifest into the working dir (src/image) and returns its rootfs. */
const unpacking = new Map<string, Promise<string>>();
async function imageRootfs(image: string, ctx: ProviderContext): Promise<string> {
  const m = /^oci:([^:]+):([^:]+)$/.exec(image);
  if (!m) throw new MachineError(`${ctx.address}: image "${image}" is not oci:DIR:TAG`);
  const layout = isAbsolute(m[1] ?? '') ? (m[1] as string) : resolve(ctx.dir, m[1] ?? '');
  const tag = m[2] as string;
  let img: OciImage;
  try {
    img = await readOciImage(layout, tag);
  } catch (err) {
    throw new MachineError(
      `${ctx.address}: cannot read image ${image}: ${(err as Error).message}`,
      'build one with `drover build`, or give rootfs: DIR',
    );
  }
  // Keyed by the manifest: a rebuilt image under the same tag gets a fresh unpack.
  const bundle = join(ctx.workDir, 'images', img.manifestDigest.replace(/^sha256:/, '').slice(0, 16));
  let p = unpacking.get(bundle);
  if (!p) {
    p = (async () => {
      const rootfs = join(bundle, 'rootfs');
      if (
        await stat(join(bundle, '.complete')).then(
          () => true,
          () => false,
        )
      )
        return rootfs;
      await rm(bundle, { recursive: true, force: true });
      ctx.log(`unpacking ${image} (${img.layers.length} layers)`);
      try {
        await unpackLayers(img.layers, rootfs);
      } catch (err) {
        await rm(bundle, { recursive: true, force: true });
        throw new MachineError(`${ctx.address}: cannot unpack ${image}: ${(err as Error).message}`);
      }
      await writeFile(join(bundle, '.complete'), `${image} ${img.manifestDigest}\n`);
      return rootfs;
    })();
    unpacking.set(bundle, p);
    const forget = () => unpacking.delete(bundle);
    p.then(forget, forget);
  }
  return p;
}

async function lowerRoot(a: Attrs, ctx: ProviderContext): Promise<string> {
  const image = text(a.image);
  if (image !== undefined) return imageRootfs(image, ctx);
  const rootfs = text(a.rootfs);
  if (rootfs === undefined) return '/';
  const dir = await canonicalPath(isAbsolute(rootfs) ? rootfs : resolve(ctx.dir, rootfs));
  if (
    !(await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  ) {
    throw new MachineError(`${ctx.address}: rootfs ${dir} is not a directory`);
  }
  return dir;
}

/** Passwd/group/shadow entries for a login user the root filesystem lacks (passwordless sudo). */
async function userLayer(lower: string, user: string, authorizedKeys: string): Promise<LayerEntry[]> {
  const etc = {
    passwd: await readOr(join(lower, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n'),
    group: await readOr(join(lower, 'etc/group'), 'root:x:0:\n'),
    shadow: await readOr(join(lower, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n'),
  };
  const shadowGid = (await stat(join(lower, 'etc/shadow')).catch(() => undefined))?.gid ?? 0;
  const entries: LayerEntry[] = [];
  const unlocked = unlockRootHash(etc.shadow);
  if (user === 'root') {
    if (unlocked !== etc.shadow)
      entries.push({ path: '/etc/shadow', mode: 0o640, gid: shadowGid, content: unlocked });
    entries.push(...loginEntries({ home: '/root', uid: 0, gid: 0 }, authorizedKeys));
    return entries;
  }
  const existing = etc.passwd.split('\n').find((l) => l.split(':')[0] === user);
  if (existing) {
    const [, , uid, gid, , home] = existing.split(':');
    entries.push(
      ...loginEntries({ home: home || `/home/${user}`, uid: Number(uid), gid: Number(gid) }, authorizedKeys),
    );
    return entries;
  }
  const id = freeId([etc.passwd, etc.group], 1000);
  const shell = (await access(join(lower, 'bin/bash'), constants.X_OK).then(
    () => true,
    () => false,
  ))
    ? '/bin/bash'
    : '/bin/sh';
  entries.push(
    {
      path: '/etc/passwd',
      mode: 0o644,
      content: withEntries(
        etc.passwd,
        [user],
        [`${user}:x:${id}:${id}:drover machine user:/home/${user}:${shell}`],
      ),
    },
    { path: '/etc/group', mode: 0o644, content: withEntries(etc.group, [user], [`${user}:x:${id}:`]) },
    // '*' (not '!'): sshd without PAM treats '!' as locked, even for key logins.
    {
      path: '/etc/shadow',
      mode: 0o640,
      gid: shadowGid,
      content: withEntries(unlocked, [user], [`${user}:*:20000:0:99999:7:::`]),
    },
    { path: `/etc/sudoers.d/drover-${user}`, mode: 0o440, content: `${user} ALL=(ALL:ALL) NOPASSWD: ALL\n` },
    ...loginEntries({ home: `/home/${user}`, uid: id, gid: id }, authorizedKeys),
  );
  return entries;
}

/** `.drover/infra/known_hosts`: one line per running machine, kept by create, read and delete. */
function knownHostsPath(ctx: ProviderContext): string {
  return join(ctx.workDir, 'known_hosts');
}

// Writes of the shared file are serialised within the process (parallel creates and deletes).
let knownHostsChain: Promise<unknown> = Promise.resolve();

/** Drops the lines `drop` picks and optionally adds one. */
function editKnownHosts(ctx: ProviderContext, drop: (line: string) => boolean, line?: string): Promise<void> {
  const next = knownHostsChain.then(async () => {
    const file = knownHostsPath(ctx);
    const lines = (await readOr(file, '')).split('\n').filter((l) => l !== '' && !drop(l));
    if (line !== undefined) lines.push(line);
    if (lines.length === 0) {
      await rm(file, { force: true });
      return;
    }
    await writeFile(`${file}.tmp`, `${lines.join('\n')}\n`);
    await rename(`${file}.tmp`, file);
  });
  knownHostsChain = next.catch(() => undefined);
  return next;
}

/** The machine's own known_hosts line (not one a newer machine on the same port wrote). */
function forgetHost(ctx: ProviderContext, state: Attrs): Promise<void> {
  const line = `[127.0.0.1]:${String(state.port)} ${String(state.host_key)}`;
  return editKnownHosts(ctx, (l) => l === line);
}

/** Removes a host dir completely: processes, mounts, then files. */
async function removeHostDir(hostDir: string): Promise<void> {
  // stopHostDir also waits for the host's port to be free, and fails if a machine created
  // meanwhile (a parallel replacement) already listens there. What matters here is that
  // nothing runs or is mounted under this dir: cleanupStale checks exactly that, without
  // the record's ports.
  await stopHostDir(hostDir, { graceMs: 500 }).catch(() => undefined);
  await removeState(hostDir);
  await cleanupStale(hostDir);
  await rm(hostDir, { recursive: true, force: true });
}

/** An unpacked image no machine uses any more is removed with the last one. */
async function pruneImages(ctx: ProviderContext): Promise<void> {
  const imagesDir = join(ctx.workDir, 'images');
  const bundles = await readdir(imagesDir).catch(() => [] as string[]);
  if (bundles.length === 0) return;
  const used = new Set<string>();
  for (const h of await findHostDirs(machinesDir(ctx), 1)) {
    for (const l of (await readState(h))?.spec.lowerDirs ?? []) used.add(l);
  }
  for (const b of bundles) {
    const rootfs = join(imagesDir, b, 'rootfs');
    if (![...used].some((u) => u === rootfs) && !unpacking.has(join(imagesDir, b))) {
      await rm(join(imagesDir, b), { recursive: true, force: true });
    }
  }
  if ((await readdir(imagesDir).catch(() => ['x'])).length === 0)
    await rm(imagesDir, { recursive: true, force: true });
}

/** Debris of hosts at this address that are not running (a crash between boot and state save, a dead host). */
async function sweepDead(ctx: ProviderContext, prefix: string): Promise<void> {
  const dir = machinesDir(ctx);
  for (const e of await readdir(dir).catch(() => [] as string[])) {
    if (!e.startsWith(`${prefix}~`)) continue;
    const hostDir = join(dir, e);
    if (!(await attachHost(hostDir))) await removeHostDir(hostDir);
  }
}

/** Every host at this address, running or not, with its known_hosts line. */
async function sweepAddress(ctx: ProviderContext, prefix: string): Promise<void> {
  const dir = machinesDir(ctx);
  for (const e of await readdir(dir).catch(() => [] as string[])) {
    if (!e.startsWith(`${prefix}~`)) continue;
    const hostDir = join(dir, e);
    const st = await readState(hostDir);
    const port = st?.ports[0];
    const key = (await readOr(join(hostDir, 'ssh_host_ed25519_key.pub'), ''))
      .trim()
      .split(/\s+/)
      .slice(0, 2)
      .join(' ');
    await removeHostDir(hostDir);
    if (port !== undefined && key) await forgetHost(ctx, { port, host_key: key });
  }
}

async function createMachine(config: Attrs, ctx: ProviderContext): Promise<Attrs> {
  const a = withDefaults(config);
  const name = text(a.name) ?? nameFromAddress(ctx.address);
  const hostname = text(a.hostname) ?? name;
  const user = text(a.user) ?? 'root';
  const lower = await lowerRoot(a, ctx);
  if (
    !(await access(join(lower, 'usr/sbin/sshd'), constants.X_OK).then(
      () => true,
      () => false,
    ))
  ) {
    await pruneImages(ctx).catch(() => undefined);
    const what = lower === '/' ? 'this machine' : (text(a.image) ?? lower);
    throw new MachineError(
      `${ctx.address}: ${what} has no /usr/sbin/sshd`,
      lower === '/' ? 'apt-get install openssh-server' : 'install openssh-server in the image or rootfs',
    );
  }
  const id = `${name}-${randomBytes(4).toString('hex')}`;
  const prefix = nameFromAddress(ctx.address);
  await mkdir(machinesDir(ctx), { recursive: true });
  await sweepDead(ctx, prefix);
  const hostDir = join(await canonicalPath(machinesDir(ctx)), `${prefix}~${id}`);
  await mkdir(hostDir, { recursive: true, mode: 0o700 });
  let port: number | undefined;
  let ours = false;
  try {
    const range =
      parsePortRange(text(a.port_range) ?? DEFAULT_PORT_RANGE) ??
      (parsePortRange(DEFAULT_PORT_RANGE) as [number, number]);
    if (a.port !== undefined && a.port !== null) port = Number(a.port);
    else {
      port = await pickPort(range, ctx.address);
      ours = true;
    }
    const hostKey = await generateKeyPair(
      join(hostDir, 'ssh_host_ed25519_key'),
      `drover-machine-${hostname}`,
    );
    let publicKey = text(a.public_key);
    let privateKeyPath = text(a.private_key_path);
    if (publicKey === undefined) {
      const client = await generateKeyPair(join(hostDir, 'id_ed25519'), `drover-machine-client-${hostname}`);
      publicKey = client.publicKey.trim();
      privateKeyPath = join(hostDir, 'id_ed25519');
    } else if (privateKeyPath !== undefined && !isAbsolute(privateKeyPath)) {
      privateKeyPath = resolve(ctx.dir, privateKeyPath);
    }
    const upper = join(hostDir, 'upper');
    await mkdir(upper, { recursive: true });
    const entries = [
      ...sshdEntries(hostKey.privateKey, hostKey.publicKey),
      ...(await userLayer(lower, user, `${publicKey.trim()}\n`)),
      ...(await hostnameEntries(hostname, lower)),
    ];
    for (const e of entries) await putEntry(upper, e, lower);
    const hostKeyText = hostKey.publicKey.trim().split(/\s+/).slice(0, 2).join(' ');
    const knownHostsFile = knownHostsPath(ctx);
    ctx.log(`booting ${hostname} on 127.0.0.1:${port}`);
    await bootHost({
      name: id,
      hostDir,
      hostname,
      lowerDirs: [lower],
      command: sshdCommand(port),
      ports: [port],
      // The machine's own / holds the infra working dir: keys and every machine's layers.
      hide: lower === '/' ? [ctx.workDir] : [],
    });
    // A reused port's old key must go.
    await editKnownHosts(
      ctx,
      (l) => l.startsWith(`[127.0.0.1]:${port} `),
      `[127.0.0.1]:${port} ${hostKeyText}`,
    );
    const out: Attrs = {
      ...a,
      name,
      hostname,
      user,
      port,
      address: '127.0.0.1',
      public_key: publicKey.trim(),
      host_key: hostKeyText,
      known_hosts_file: knownHostsFile,
      state_dir: hostDir,
      id,
    };
    if (privateKeyPath !== undefined) {
      out.private_key_path = privateKeyPath;
      out.private_key_file = privateKeyPath;
    }
    return out;
  } catch (err) {
    await removeHostDir(hostDir).catch(() => undefined);
    throw err;
  } finally {
    if (ours && port !== undefined) reserved.delete(port);
  }
}

export const machine: ResourceType = {
  schema: { type: 'machine', description: 'a namespaced sshd host on 127.0.0.1', attributes: attrs },
  validate,
  plan(config, prior) {
    const a = withDefaults(config);
    // Known before apply when given; the rest shows as (known after apply).
    if (prior) {
      for (const k of ['name', 'hostname', 'port', 'public_key', 'private_key_path', 'private_key_file']) {
        if (a[k] === undefined && prior[k] !== undefined) a[k] = prior[k] ?? null;
      }
      for (const k of ['address', 'host_key', 'known_hosts_file', 'state_dir', 'id'])
        if (prior[k] !== undefined) a[k] = prior[k] ?? null;
    } else {
      a.address = '127.0.0.1';
      if (a.hostname === undefined && typeof a.name === 'string') a.hostname = a.name;
    }
    return a;
  },
  create: createMachine,
  async read(state, ctx) {
    const dir = text(state.state_dir);
    if (dir === undefined) return undefined;
    const host = await attachHost(dir);
    if (!host) {
      // Died (killed, machine rebooted): what it left is debris, and the next apply makes a new one.
      ctx.log(`${text(state.hostname) ?? dir} is not running`);
      await removeHostDir(dir).catch(() => undefined);
      await forgetHost(ctx, state).catch(() => undefined);
      await pruneImages(ctx).catch(() => undefined);
      return undefined;
    }
    return { ...state };
  },
  async update(prior, config) {
    // Only port_range and private_key_path can change in place; neither touches the host.
    const a = withDefaults(config);
    const out: Attrs = { ...prior, port_range: a.port_range ?? DEFAULT_PORT_RANGE };
    if (a.private_key_path !== undefined) {
      out.private_key_path = a.private_key_path;
      out.private_key_file = a.private_key_path;
    }
    return out;
  },
  async delete(state, ctx) {
    const dir = text(state.state_dir);
    if (dir === undefined) {
      // A create that never returned (apply killed mid-boot; the engine recorded it as
      // `creating` without attributes): whatever it booted at this address goes.
      await sweepAddress(ctx, nameFromAddress(ctx.address));
      await pruneImages(ctx);
      return;
    }
    await removeHostDir(dir);
    await forgetHost(ctx, state);
    await pruneImages(ctx);
    const left = await readdir(machinesDir(ctx)).catch(() => ['x']);
    if (left.length === 0) await rm(machinesDir(ctx), { recursive: true, force: true });
  },
  async import(id, ctx) {
    // The id is the machine's state dir (or its name under the working dir): a host booted by an earlier state.
    const dir = isAbsolute(id) ? id : join(machinesDir(ctx), id);
    const st = await readState(await canonicalPath(dir));
    if (!st || !(await attachHost(dir))) {
      throw new MachineError(
        `${ctx.address}: no running machine in ${dir}`,
        'import takes the state_dir of a running machine',
      );
    }
    const port = st.ports[0] ?? 0;
    const knownHostsFile = knownHostsPath(ctx);
    const hostKeyText = (await readOr(`${join(st.hostDir, 'ssh_host_ed25519_key')}.pub`, ''))
      .trim()
      .split(/\s+/)
      .slice(0, 2)
      .join(' ');
    const out: Attrs = {
      name: st.name.replace(/-[0-9a-f]{8}$/, ''),
      hostname: st.spec.hostname ?? st.name,
      user: 'root',
      port,
      port_range: DEFAULT_PORT_RANGE,
      address: '127.0.0.1',
      host_key: hostKeyText,
      known_hosts_file: knownHostsFile,
      state_dir: st.hostDir,
      id: st.name,
    };
    const clientPub = await readOr(join(st.hostDir, 'id_ed25519.pub'), '');
    if (clientPub) {
      out.public_key = clientPub.trim();
      out.private_key_path = join(st.hostDir, 'id_ed25519');
      out.private_key_file = out.private_key_path;
    }
    const lower = st.spec.lowerDirs?.[0];
    if (lower && lower !== '/' && !lower.startsWith(join(ctx.workDir, 'images'))) out.rootfs = lower;
    return out;
  },
};

export const machineProvider: Provider = { name: 'machine', resources: [machine] };
