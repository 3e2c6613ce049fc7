/**
 * SSH transport over ssh2: one persistent connection per host, many exec channels over it.
 */

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { homedir, constants as osConstants } from 'node:os';
import type { Duplex } from 'node:stream';
import pLimit, { type LimitFunction } from 'p-limit';
import ssh2, {
  type AnyAuthMethod,
  type AuthenticationType,
  type ClientChannel,
  type ParsedKey,
  type ServerHostKeyAlgorithm,
} from 'ssh2';
import { quote } from '../shell/quote.js';
import { type BecomeCommand, BecomeConversation, buildBecomeCommand, withPidLine } from './become.js';
import {
  defaultKnownHostsFiles,
  fingerprint,
  type HostKeyVerdict,
  knownKeyTypes,
  loadKnownHosts,
  verifyHostKey,
} from './known-hosts.js';
import { useQuickAuth } from './quick-auth.js';
import { SESSION_COMMAND, SessionNotStartedError, SessionShell } from './session.js';
import { getWith, putWith, type RawRun } from './transfer.js';
import {
  type Become,
  type Connection,
  type ConnectionSpec,
  type RunOptions,
  type RunResult,
  UnreachableError,
} from './types.js';

// ssh2 is CommonJS; its named exports are not all visible to ESM, so take them from the default.
const { Client, utils } = ssh2;
type Client = InstanceType<typeof Client>;

export interface SshOptions {
  /** Asked for the passphrase of an encrypted key; return undefined to skip the key. */
  passphrase?: (keyFile: string) => Promise<string | undefined>;
  /** ssh-agent socket; defaults to $SSH_AUTH_SOCK, null disables the agent. */
  agentSocket?: string | null;
  /** Home directory for default identities and known_hosts. */
  home?: string;
  /** Debug lines (never contain secrets). */
  log?: (line: string) => void;
  /** ssh2's protocol trace (packet types, no payloads), each line after the host's name. */
  sshDebug?: (line: string) => void;
  /**
   * Run commands through one long-lived remote sh per connection (1 round trip per run
   * instead of 2). Runs with a timeout or a become password, and runs while the session
   * is busy, still use their own exec channel. 'auto' times three empty execs after connecting
   * and uses the session when the fastest took longer than `sessionThresholdMs` (default 15 ms):
   * on a LAN exec channels are as fast, over a WAN the session halves the cost.
   */
  session?: boolean | 'auto';
  sessionThresholdMs?: number;
  /** Scales the pauses between connect retries (tests use a small value). Default 1. */
  retryPauseScale?: number;
}

/** sshd's MaxSessions defaults to 10; stay below so a burst never sees "open failed". */
export const DEFAULT_MAX_CHANNELS = 8;
const DEFAULT_KEEPALIVE_MS = 15_000;

interface Hop {
  host: string; // for messages and host key lookup
  port: number;
  user: string | undefined;
}

/** `[user@]host[:port]` (also `[v6addr]:port`). */
export function parseJump(s: string): Hop {
  let rest = s.replace(/^ssh:\/\//, '');
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  let port = 22;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (v6) {
    rest = v6[1]!;
    if (v6[2]) port = Number(v6[2]);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0 && rest.indexOf(':') === colon) {
      port = Number(rest.slice(colon + 1));
      rest = rest.slice(0, colon);
    }
  }
  return { host: rest, port, user };
}

/** Connect failures that may heal by themselves (refused, timed out, cut); retried per spec.connectRetries. */
class TransientUnreachableError extends UnreachableError {}

/** The server would not open another channel (MaxSessions); retried by execWithRetry. */
class ChannelRefusedError extends UnreachableError {}

const keyCache = new WeakMap<SshOptions, Map<string, Promise<{ keys: LoadedKey[]; notes: string[] }>>>();

interface LoadedKey {
  file: string;
  key: ParsedKey;
}

interface AuthPlan {
  methods: AnyAuthMethod[];
  /** For the failure message: what was tried or why a key was skipped. */
  notes: string[];
  labels: string[];
}

function signalNumber(name: string): number {
  const n = (osConstants.signals as Record<string, number | undefined>)[`SIG${name}`];
  return n ?? 0;
}

export class SshConnection implements Connection {
  readonly host: string;
  private client: Client | undefined;
  private jumpClients: Client[] = [];
  private socket: Socket | undefined;
  private connecting: Promise<void> | undefined;
  private ready = false;
  private closedByUs = false;
  private readonly channels: LimitFunction;
  private readonly inFlight = new Set<(e: Error) => void>();

  constructor(
    readonly spec: ConnectionSpec,
    private readonly opts: SshOptions = {},
  ) {
    this.host = spec.host;
    this.channels = pLimit(Math.max(1, spec.maxChannels ?? DEFAULT_MAX_CHANNELS));
  }

  private log(line: string): void {
    this.opts.log?.(`[${this.host}] ${line}`);
  }

  connect(): Promise<void> {
    if (this.ready && this.client) return Promise.resolve();
    if (!this.connecting) {
      this.closedByUs = false;
      this.connecting = this.openWithRetries().finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  /**
   * Ansible's ssh `retries`: a refused, timed-out or cut connection is tried again after
   * 2^n - 1 s (at most 30 s); auth, host key and name errors are not, they will not heal.
   */
  private async openWithRetries(): Promise<void> {
    const retries = Math.max(0, this.spec.connectRetries ?? 0);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.open();
        return;
      } catch (e) {
        if (!(e instanceof TransientUnreachableError) || attempt >= retries || this.closedByUs) {
          if (attempt > 0 && e instanceof UnreachableError) {
            throw new UnreachableError(this.host, `${e.message} (after ${attempt + 1} attempts)`, e.hint);
          }
          throw e;
        }
        const pause = Math.min(30, 2 ** (attempt + 1) - 1) * 1000 * (this.opts.retryPauseScale ?? 1);
        this.log(`${e.message}; retrying in ${pause / 1000}s`);
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  private get home(): string {
    return this.opts.home ?? homedir();
  }

  /**
   * Keys are read and decrypted once per SshOptions object (the pool shares one), so a
   * passphrase is asked once per key file, not once per host.
   */
  private loadKeys(): Promise<{ keys: LoadedKey[]; notes: string[] }> {
    let cache = keyCache.get(this.opts);
    if (!cache) {
      cache = new Map();
      keyCache.set(this.opts, cache);
    }
    const id = JSON.stringify([this.spec.privateKeyFiles, this.spec.passphrase ?? null, this.home]);
    let p = cache.get(id);
    if (!p) {
      p = this.readKeys();
      cache.set(id, p);
    }
    return p;
  }

  private async readKeys(): Promise<{ keys: LoadedKey[]; notes: string[] }> {
    const explicit = this.spec.privateKeyFiles.length > 0;
    const files = explicit
      ? this.spec.privateKeyFiles
      : ['id_ed25519', 'id_ecdsa', 'id_rsa']
          .map((f) => `${this.home}/.ssh/${f}`)
          .filter((f) => existsSync(f));
    const keys: LoadedKey[] = [];
    const notes: string[] = [];
    for (const file of files) {
      let data: Buffer;
      try {
        data = await readFile(file);
      } catch (e) {
        notes.push(`key ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
        continue;
      }
      let parsed = utils.parseKey(data, this.spec.passphrase);
      if (parsed instanceof Error && /encrypted|passphrase/i.test(parsed.message)) {
        const pass = this.spec.passphrase === undefined ? await this.opts.passphrase?.(file) : undefined;
        if (pass === undefined) {
          notes.push(
            `key ${file} is encrypted and no passphrase was given (load it into ssh-agent with \`ssh-add ${file}\`, or pass a passphrase)`,
          );
          continue;
        }
        parsed = utils.parseKey(data, pass);
      }
      if (parsed instanceof Error) {
        notes.push(
          /bad passphrase|decrypt/i.test(parsed.message)
            ? `key ${file}: wrong passphrase`
            : `key ${file} cannot be parsed: ${parsed.message}`,
        );
        continue;
      }
      const list = Array.isArray(parsed) ? (parsed as ParsedKey[]) : [parsed];
      for (const k of list) keys.push({ file, key: k });
    }
    return { keys, notes };
  }

  private async planAuth(user: string, withPassword: boolean): Promise<AuthPlan> {
    const { keys, notes } = await this.loadKeys();
    const methods: AnyAuthMethod[] = [];
    const labels: string[] = [];
    const agent = this.opts.agentSocket === undefined ? process.env.SSH_AUTH_SOCK : this.opts.agentSocket;
    if (agent) {
      methods.push({ type: 'agent', username: user, agent });
      labels.push(`ssh-agent (${agent})`);
    }
    for (const k of keys) {
      methods.push({ type: 'publickey', username: user, key: k.key });
      labels.push(`publickey ${k.file} (${k.key.type})`);
    }
    const password = withPassword ? this.spec.password : undefined;
    if (password !== undefined) {
      methods.push({
        type: 'keyboard-interactive',
        username: user,
        prompt: (_n, _i, _l, prompts, finish) => finish(prompts.map(() => password)),
      });
      labels.push('keyboard-interactive (password)');
      methods.push({ type: 'password', username: user, password });
      labels.push('password');
    }
    return { methods, notes, labels };
  }

  private hops(): Hop[] {
    const target: Hop = { host: this.spec.address, port: this.spec.port, user: this.spec.user };
    const jumps = (this.spec.proxyJump ?? [])
      .map(parseJump)
      .map((h) => ({ ...h, user: h.user ?? this.spec.user }));
    return [...jumps, target];
  }

  private async open(): Promise<void> {
    const hops = this.hops();
    const timeout = this.spec.connectTimeoutMs;
    let sock: Duplex | undefined;
    const opened: Client[] = [];
    try {
      for (let i = 0; i < hops.length; i++) {
        const hop = hops[i]!;
        const last = i === hops.length - 1;
        if (i === 0) {
          this.socket = await this.tcpConnect(hop, timeout, last);
          sock = this.socket;
        } else {
          sock = await this.forward(opened[i - 1]!, hops[i - 1]!, hop, timeout);
        }
        const client = await this.handshake(hop, sock!, last);
        opened.push(client);
      }
    } catch (e) {
      for (const c of opened) c.end();
      this.socket?.destroy();
      throw e;
    }
    if (this.closedByUs) {
      // close() was called while we were connecting: do not leave a connection behind.
      for (const c of opened) c.end();
      this.socket?.destroy();
      throw new UnreachableError(
        this.host,
        `connection to ${this.describeTarget()} was closed while connecting`,
      );
    }
    this.jumpClients = opened.slice(0, -1);
    this.client = opened[opened.length - 1];
    this.ready = true;
    const client = this.client!;
    client.on('close', () => this.dropped(client));
  }

  private dropped(client: Client): void {
    if (client !== this.client) return;
    this.ready = false;
    this.client = undefined;
    for (const j of this.jumpClients) j.end();
    this.jumpClients = [];
    if (this.closedByUs) return;
    const err = new UnreachableError(
      this.host,
      `connection to ${this.describeTarget()} dropped`,
      'the host closed the connection or the network failed; check that it is up (it may have rebooted)',
    );
    for (const reject of this.inFlight) reject(err);
    this.inFlight.clear();
  }

  private describeTarget(hop?: Hop): string {
    const h = hop ?? { host: this.spec.address, port: this.spec.port, user: this.spec.user };
    const via =
      !hop && this.spec.proxyJump && this.spec.proxyJump.length > 0
        ? ` via ${this.spec.proxyJump.join(',')}`
        : '';
    return `${h.user ? `${h.user}@` : ''}${h.host}:${h.port}${via}`;
  }

  private tcpConnect(hop: Hop, timeoutMs: number, isTarget: boolean): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = netConnect({ host: hop.host, port: hop.port });
      // Without this every exec waits on Nagle + delayed ACK (~40 ms instead of ~5 ms).
      s.setNoDelay(true);
      const what = isTarget ? this.describeTarget() : `jump host ${this.describeTarget(hop)}`;
      const timer = setTimeout(() => {
        s.destroy();
        reject(
          new TransientUnreachableError(
            this.host,
            `connecting to ${what} timed out after ${timeoutMs / 1000}s`,
            'the host is down, firewalled or the address is wrong; raise ansible_timeout (or -T) if it is just slow',
          ),
        );
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        // Until ssh2 takes the socket over (after auth preparation), an error must not crash
        // the process; ssh2 then sees the socket closed and the handshake fails with a message.
        s.on('error', () => undefined);
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(this.socketError(e, what, hop));
      });
    });
  }

  private socketError(e: NodeJS.ErrnoException, what: string, hop: Hop): UnreachableError {
    switch (e.code) {
      case 'ECONNREFUSED':
        return new TransientUnreachableError(
          this.host,
          `connection refused by ${what}`,
          `nothing listens on port ${hop.port}: is sshd running there, and are ansible_host / ansible_port right?`,
        );
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return new UnreachableError(
          this.host,
          `cannot resolve host name ${hop.host} (${e.code})`,
          'check ansible_host, the inventory name and DNS / /etc/hosts',
        );
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return new TransientUnreachableError(
          this.host,
          `no route to ${what} (${e.code})`,
          'the network path to the host is down',
        );
      default:
        return new TransientUnreachableError(
          this.host,
          `connecting to ${what} failed: ${e.message}`,
          undefined,
        );
    }
  }

  private forward(via: Client, viaHop: Hop, hop: Hop, timeoutMs: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new UnreachableError(
              this.host,
              `jump host ${viaHop.host}:${viaHop.port} did not open a tunnel to ${hop.host}:${hop.port} within ${timeoutMs / 1000}s`,
              'check the ProxyJump chain',
            ),
          ),
        timeoutMs,
      );
      via.forwardOut('127.0.0.1', 0, hop.host, hop.port, (err, stream) => {
        clearTimeout(timer);
        if (err) {
          reject(
            new UnreachableError(
              this.host,
              `jump host ${viaHop.host}:${viaHop.port} could not reach ${hop.host}:${hop.port}: ${err.message}`,
              'check that the target address is right as seen from the jump host, and that the jump host allows TCP forwarding (AllowTcpForwarding)',
            ),
          );
          return;
        }
        resolve(stream);
      });
    });
  }

  private async handshake(hop: Hop, sock: Duplex, isTarget: boolean): Promise<Client> {
    const user = hop.user ?? process.env.USER ?? 'root';
    const plan = await this.planAuth(user, isTarget);
    const files = this.spec.knownHostsFiles ?? defaultKnownHostsFiles(this.home);
    const mode = this.spec.hostKeyChecking;
    // Ask the server for a key type we already know for it, as ssh does, so a host known
    // by its rsa key is not reported as unknown because ssh2 prefers ed25519.
    let preferred: string[] = [];
    if (mode !== 'off') preferred = knownKeyTypes(await loadKnownHosts(files), hop.host, hop.port);
    const what = isTarget ? this.describeTarget() : `jump host ${this.describeTarget(hop)}`;
    const tried: string[] = [];
    let verdict: HostKeyVerdict | undefined;

    return new Promise<Client>((resolve, reject) => {
      const client = new Client();
      let settled = false;
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        client.end();
        reject(e);
      };
      const methods = [...plan.methods];
      const labels = [...plan.labels];
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        this.log(`connected to ${what}`);
        resolve(client);
      });
      client.on('error', (e: Error & { level?: string }) => {
        if (verdict && !verdict.ok) {
          fail(new UnreachableError(this.host, `${what}: ${verdict.message}`, verdict.hint));
          return;
        }
        if (e.level === 'client-authentication') {
          const triedText =
            tried.length > 0 ? tried.join(', ') : 'nothing (no key, agent or password available)';
          const notes = plan.notes.length > 0 ? `; ${plan.notes.join('; ')}` : '';
          fail(
            new UnreachableError(
              this.host,
              `authentication failed for ${what}: tried ${triedText}${notes}`,
              'check ansible_user, pass a key with --private-key / ansible_ssh_private_key_file, load keys into ssh-agent, or give a password with -k / ansible_password',
            ),
          );
          return;
        }
        if (e.level === 'client-timeout') {
          fail(
            new TransientUnreachableError(
              this.host,
              `ssh handshake with ${what} timed out after ${this.spec.connectTimeoutMs / 1000}s`,
              'the port answers but no ssh server responds in time; check the port and the server load, or raise ansible_timeout',
            ),
          );
          return;
        }
        if ((e as NodeJS.ErrnoException).code) {
          fail(this.socketError(e as NodeJS.ErrnoException, what, hop));
          return;
        }
        fail(new UnreachableError(this.host, `ssh connection to ${what} failed: ${e.message}`, undefined));
      });
      client.on('close', () =>
        fail(
          new TransientUnreachableError(
            this.host,
            `${what} closed the connection during the ssh handshake`,
            'is this port really an ssh server, and does it accept this client (MaxStartups, AllowUsers)?',
          ),
        ),
      );
      const algorithms =
        preferred.length > 0 ? { serverHostKey: orderHostKeyAlgorithms(preferred) } : undefined;
      client.connect({
        sock,
        username: user,
        readyTimeout: this.spec.connectTimeoutMs,
        keepaliveInterval: this.spec.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_MS,
        keepaliveCountMax: 3,
        ...(algorithms ? { algorithms } : {}),
        ...(this.opts.sshDebug ? { debug: (l: string) => this.opts.sshDebug!(`${this.host}: ${l}`) } : {}),
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          verifyHostKey(hop.host, hop.port, key, mode, files, {
            hash: this.spec.hashKnownHosts ?? false,
          }).then(
            (v) => {
              verdict = v;
              if (v.ok && v.added)
                this.log(`added host key ${fingerprint(key)} for ${hop.host}:${hop.port} to ${v.added}`);
              verify(v.ok);
            },
            (e: unknown) => {
              verdict = {
                ok: false,
                reason: 'unknown',
                message: `checking the host key failed: ${String(e)}`,
                hint: 'check that the known_hosts files are readable and writable',
              };
              verify(false);
            },
          );
        },
        authHandler: (methodsLeft: AuthenticationType[], _partial: boolean, next) => {
          while (methods.length > 0) {
            const m = methods.shift()!;
            const label = labels.shift()!;
            // methodsLeft is null on the first attempt, despite the typings.
            if (methodsLeft && !methodsLeft.includes(m.type)) continue;
            tried.push(label);
            next(m);
            return;
          }
          (next as unknown as (v: false) => void)(false);
        },
      });
      useQuickAuth(client, (msg) => this.log(msg));
    });
  }

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    const cmd = buildBecomeCommand(script, opts.become, opts.env);
    const stdin = opts.stdin === undefined ? undefined : Buffer.from(opts.stdin);
    const timed = opts.timeoutMs !== undefined && opts.timeoutMs > 0;
    if (
      this.opts.session &&
      !this.sessionUnavailable &&
      !timed &&
      cmd.password === undefined &&
      (await this.sessionWanted())
    ) {
      await this.connect();
      const session = this.readySession();
      if (session && !session.busy) {
        const r = await this.runInSession(session, cmd, stdin);
        if (r !== undefined) return decode(r);
      }
    }
    const raw = await this.execCommand(timed ? withPidLine(cmd) : cmd, stdin, opts.timeoutMs);
    return decode(raw);
  }

  /** The session of the current client: opening (`shell` unset) or open. */
  private sessionSlot: { client: Client; opening: boolean; shell?: SessionShell } | undefined;

  /**
   * The connection's session shell if it is open, else undefined, and then it starts opening
   * it: that takes two round trips (channel open, exec), which the first run spends on an
   * exec channel of its own instead of waiting. A session that ended is reopened; one that
   * never started (the target cannot run the driver) turns the session off for this host.
   */
  private readySession(): SessionShell | undefined {
    const client = this.client;
    if (!client || !this.ready) return undefined;
    const slot = this.sessionSlot;
    if (slot && slot.client === client) {
      if (slot.opening) return undefined;
      if (slot.shell?.alive) return slot.shell;
      if (!slot.shell) return undefined; // the server refused the channel: exec channels
      if (!slot.shell.everStarted) {
        this.sessionUnavailable = true;
        this.log(`${slot.shell.deathReason}; using exec channels`);
        return undefined;
      }
    }
    const next: { client: Client; opening: boolean; shell?: SessionShell } = { client, opening: true };
    this.sessionSlot = next;
    client.exec(SESSION_COMMAND, (err, ch) => {
      next.opening = false;
      if (err) {
        this.log(`session shell unavailable (${err.message}); using exec channels`);
        return;
      }
      next.shell = new SessionShell(ch);
    });
    return undefined;
  }

  private sessionDecision: Promise<boolean> | undefined;

  private sessionWanted(): Promise<boolean> {
    if (this.opts.session !== 'auto') return Promise.resolve(this.opts.session === true);
    this.sessionDecision ??= (async () => {
      // The fastest of three: the first exec after connecting and a busy controller both add noise.
      let ms = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        await this.execCommand(buildBecomeCommand(':', undefined), undefined, undefined);
        ms = Math.min(ms, performance.now() - t);
      }
      const use = ms > (this.opts.sessionThresholdMs ?? 15);
      this.log(
        `empty exec took ${ms.toFixed(1)} ms: ${use ? 'using a session shell' : 'using exec channels'}`,
      );
      return use;
    })();
    return this.sessionDecision;
  }

  /** Set when the target cannot run the session driver: every run then takes an exec channel. */
  private sessionUnavailable = false;

  /** undefined: the session never started, so nothing ran and the caller uses an exec channel. */
  private async runInSession(
    session: SessionShell,
    cmd: BecomeCommand,
    stdin: Buffer | undefined,
  ): Promise<RawRun | undefined> {
    try {
      return await session.run(cmd, stdin);
    } catch (e) {
      if (e instanceof SessionNotStartedError && this.ready) {
        this.sessionUnavailable = true;
        this.log(`${e.message}; using exec channels`);
        return undefined;
      }
      if (!this.ready) {
        throw new UnreachableError(
          this.host,
          `connection to ${this.describeTarget()} dropped`,
          'the host closed the connection or the network failed; check that it is up (it may have rebooted)',
        );
      }
      return {
        rc: -1,
        stdout: Buffer.alloc(0),
        stderr: Buffer.from(
          `drover: the remote session shell ended during the command: ${(e as Error).message}\n`,
        ),
      };
    }
  }

  private rawRunner = async (
    script: string,
    stdin: Buffer | undefined,
    become: Become | undefined,
  ): Promise<RawRun> => this.execCommand(buildBecomeCommand(script, become), stdin, undefined);

  async execCommand(
    cmd: BecomeCommand,
    stdin: Buffer | undefined,
    timeoutMs: number | undefined,
  ): Promise<RawExec> {
    await this.connect();
    return this.channels(() => this.execWithRetry(cmd, stdin, timeoutMs));
  }

  /**
   * sshd frees a session slot only after both sides closed the channel, so a burst of runs
   * can see "open failed" below MaxSessions (measured: 2 of 40 with 8 channels against
   * MaxSessions 10). Nothing was sent yet, so retrying is safe; each refusal also lowers this
   * connection's channel limit by one (not below 2), which settles on what the server allows.
   */
  private async execWithRetry(
    cmd: BecomeCommand,
    stdin: Buffer | undefined,
    timeoutMs?: number,
  ): Promise<RawExec> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.execOnChannel(cmd, stdin, timeoutMs);
      } catch (e) {
        if (!(e instanceof ChannelRefusedError) || attempt >= 30) throw e;
        if (this.channels.concurrency > 2) {
          this.channels.concurrency -= 1;
          this.log(
            `server refused a channel; limiting this connection to ${this.channels.concurrency} channels`,
          );
        }
        await new Promise((r) => setTimeout(r, Math.min(100, 5 * 2 ** attempt)));
      }
    }
  }

  private async execOnChannel(
    cmd: BecomeCommand,
    stdin: Buffer | undefined,
    timeoutMs?: number,
  ): Promise<RawExec> {
    // The connection may have dropped while this run waited for a channel slot.
    if (!this.ready || !this.client) await this.connect();
    const client = this.client!;
    return new Promise<RawExec>((resolve, reject) => {
      let done = false;
      const onDrop = (e: Error): void => {
        if (done) return;
        done = true;
        reject(e);
      };
      this.inFlight.add(onDrop);
      client.exec(cmd.command, (err: Error | undefined, ch: ClientChannel) => {
        if (err) {
          this.inFlight.delete(onDrop);
          if (done) return;
          done = true;
          if (!this.ready || /not connected|no response/i.test(err.message)) {
            reject(
              new UnreachableError(
                this.host,
                `connection to ${this.describeTarget()} dropped`,
                'the host closed the connection or the network failed; check that it is up (it may have rebooted)',
              ),
            );
            return;
          }
          reject(
            new ChannelRefusedError(
              this.host,
              `${this.describeTarget()} refused to open a session channel: ${err.message}`,
              "the server's MaxSessions may be lower than the channel limit (spec.maxChannels); lower it or raise MaxSessions",
            ),
          );
          return;
        }
        let rc: number | undefined;
        let signal: string | undefined;
        let timedOut = false;
        let timer: NodeJS.Timeout | undefined;
        const conv = new BecomeConversation(cmd, stdin, {
          write: (b) => {
            ch.write(b);
          },
          end: () => {
            ch.end();
          },
          abort: () => {
            ch.signal('KILL');
            ch.close();
          },
        });
        ch.on('data', (c: Buffer) => conv.onStdout(c));
        ch.stderr.on('data', (c: Buffer) => conv.onStderr(c));
        ch.on('exit', (code: number | null, sig?: string) => {
          if (typeof code === 'number') rc = code;
          if (sig) signal = sig;
        });
        ch.on('error', () => {
          // A channel error is followed by close; the outcome is decided there.
        });
        let grace: NodeJS.Timeout | undefined;
        const settle = (): void => {
          if (timer) clearTimeout(timer);
          if (grace) clearTimeout(grace);
          this.inFlight.delete(onDrop);
          if (done) return;
          done = true;
          let code = rc ?? (signal ? 128 + signalNumber(signal) : -1);
          if (timedOut) code = 124;
          const out = conv.finish(code);
          const result: RawExec = { rc: code, stdout: out.stdout, stderr: out.stderr };
          if (signal && !timedOut) result.signal = signal;
          if (out.becomeError) {
            result.becomeError = out.becomeError;
            if (result.rc === 0) result.rc = 1;
          }
          if (timedOut) {
            result.timedOut = true;
            result.stderr = Buffer.concat([
              result.stderr,
              Buffer.from(
                `${result.stderr.length > 0 ? '\n' : ''}drover: command timed out after ${(timeoutMs ?? 0) / 1000}s and was killed\n`,
              ),
            ]);
          }
          resolve(result);
        };
        ch.on('close', settle);
        if (timeoutMs !== undefined && timeoutMs > 0) {
          timer = setTimeout(() => {
            timedOut = true;
            // sshd ignores channel signal requests from clients; kill the remote process
            // group from a second channel instead, then close ours.
            ch.signal('KILL');
            if (conv.pid !== undefined) this.killRemoteGroup(client, conv.pid);
            ch.end();
            // Do not hang on a process that survives the kill (e.g. root-owned under sudo).
            grace = setTimeout(() => {
              ch.close();
              settle();
            }, 2000);
          }, timeoutMs);
        }
        conv.start();
      });
    });
  }

  /**
   * TERM first so a sudo in the group relays it to its root-owned child (the login user may
   * signal its own sudo, not the child), then KILL whatever is left.
   */
  private killRemoteGroup(client: Client, pid: number): void {
    // `kill -s SIG -- -PGID` is the POSIX spelling (dash rejects `kill -TERM -- -PGID`);
    // the numeric form is a fallback for shells that lack -s.
    const g = `-${pid}`;
    const script = `kill -s TERM -- ${g} 2>/dev/null || kill -15 ${g} 2>/dev/null; sleep 0.3; kill -s KILL -- ${g} 2>/dev/null || kill -9 ${g} 2>/dev/null; exit 0`;
    client.exec(`sh -c ${quote(script)}`, (err, ch) => {
      if (err) return;
      ch.on('data', () => undefined);
      ch.stderr.on('data', () => undefined);
      ch.end();
    });
  }

  put(
    local: string | Uint8Array,
    remote: string,
    opts: { mode?: number; become?: Become } = {},
  ): Promise<void> {
    return putWith(this.rawRunner, this.host, local, remote, opts);
  }

  get(remote: string, local: string, opts: { become?: Become } = {}): Promise<void> {
    return getWith(this.rawRunner, this.host, remote, local, opts);
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    const client = this.client;
    this.ready = false;
    this.client = undefined;
    const all = [...(client ? [client] : []), ...this.jumpClients.reverse()];
    this.jumpClients = [];
    await Promise.all(
      all.map(
        (c) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 1000);
            c.once('close', () => {
              clearTimeout(t);
              resolve();
            });
            c.end();
          }),
      ),
    );
    this.socket?.destroy();
    this.socket = undefined;
  }
}

export interface RawExec extends RawRun {
  signal?: string;
  timedOut?: boolean;
}

export function decode(raw: RawExec): RunResult {
  const r: RunResult = {
    rc: raw.rc,
    stdout: raw.stdout.toString('utf8'),
    stderr: raw.stderr.toString('utf8'),
  };
  if (raw.signal) r.signal = raw.signal;
  if (raw.becomeError) {
    r.becomeError = raw.becomeError;
    r.stderr = r.stderr ? `${raw.becomeError}\n${r.stderr}` : raw.becomeError;
  }
  if (raw.timedOut) r.timedOut = true;
  return r;
}

/** ssh2's default host key algorithms with the types known for this host first. */
function orderHostKeyAlgorithms(known: string[]): ServerHostKeyAlgorithm[] {
  const all: ServerHostKeyAlgorithm[] = [
    'ssh-ed25519',
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
    'rsa-sha2-512',
    'rsa-sha2-256',
    'ssh-rsa',
  ];
  const first: ServerHostKeyAlgorithm[] = [];
  for (const t of known) {
    if (t === 'ssh-rsa') first.push('rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa');
    else {
      const hit = all.find((a) => a === t);
      if (hit) first.push(hit);
    }
  }
  return [...new Set([...first, ...all])];
}
