/**
 * One lazily connected Connection per host, with a bound on connects in flight so that
 * starting 1000 hosts at once does not exhaust file descriptors or CPU (each ssh
 * handshake costs a key exchange).
 */

import { createHash } from 'node:crypto';
import pLimit, { type LimitFunction } from 'p-limit';
import { UsageError } from '../errors.js';
import { LocalConnection } from './local.js';
import { SshConnection, type SshOptions } from './ssh.js';
import type { Connection, ConnectionSpec } from './types.js';

export type ConnectionFactory = (spec: ConnectionSpec) => Connection;

/** ssh or local by `spec.connection`; anything else is a usage error naming the host. */
export function createConnection(spec: ConnectionSpec, sshOptions: SshOptions = {}): Connection {
  switch (spec.connection) {
    case 'ssh':
      return new SshConnection(spec, sshOptions);
    case 'local':
      return new LocalConnection(spec.host);
    default:
      throw new UsageError(
        `host ${spec.host}: connection type ${JSON.stringify(spec.connection)} is not supported`,
        'drover supports ansible_connection=ssh and local',
      );
  }
}

export interface PoolOptions {
  factory?: ConnectionFactory;
  /** Handshakes in flight at once; default 32 (a 2-core machine completes ~100/s). */
  maxConcurrentConnects?: number;
  sshOptions?: SshOptions;
}

/**
 * What makes two specs the same connection. Not only the host: a play with
 * `remote_user: deploy` and another with root must not share one login. Become is per run,
 * so it is not part of it; a password is, by digest only.
 */
export function connectionKey(spec: ConnectionSpec): string {
  return JSON.stringify([
    spec.host,
    spec.connection,
    spec.address,
    spec.port,
    spec.user ?? null,
    spec.password === undefined ? null : createHash('sha256').update(spec.password).digest('base64'),
    spec.privateKeyFiles,
    spec.proxyJump ?? null,
    spec.hostKeyChecking,
    spec.knownHostsFiles ?? null,
  ]);
}

interface Entry {
  host: string;
  conn: Connection;
  ready?: Promise<Connection>;
}

export class ConnectionPool {
  private readonly entries = new Map<string, Entry>();
  private readonly limit: LimitFunction;
  private readonly factory: ConnectionFactory;

  constructor(opts: PoolOptions = {}) {
    this.limit = pLimit(Math.max(1, opts.maxConcurrentConnects ?? 32));
    const ssh = opts.sshOptions ?? {};
    this.factory = opts.factory ?? ((spec) => createConnection(spec, ssh));
  }

  /**
   * The connection for this spec (one per host and login), connected. A failed connect
   * rejects (UnreachableError) and is retried on the next call; a connection that dropped
   * later reconnects on its next run.
   */
  get(spec: ConnectionSpec): Promise<Connection> {
    const key = connectionKey(spec);
    let entry = this.entries.get(key);
    if (entry?.ready) return entry.ready;
    if (!entry) {
      entry = { host: spec.host, conn: this.factory(spec) };
      this.entries.set(key, entry);
    }
    const e = entry;
    e.ready = this.limit(() => e.conn.connect()).then(
      () => e.conn,
      (err: unknown) => {
        delete e.ready;
        throw err;
      },
    );
    return e.ready;
  }

  /** A connection created for this host, without connecting. */
  peek(host: string): Connection | undefined {
    for (const e of this.entries.values()) if (e.host === host) return e.conn;
    return undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Close every connection to this inventory host (e.g. after it was unreachable). */
  async close(host: string): Promise<void> {
    const closing: Connection[] = [];
    for (const [k, e] of this.entries) {
      if (e.host !== host) continue;
      this.entries.delete(k);
      closing.push(e.conn);
    }
    await Promise.allSettled(closing.map((c) => c.close()));
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.values()].map((e) => e.conn);
    this.entries.clear();
    await Promise.allSettled(all.map((c) => c.close()));
  }
}
