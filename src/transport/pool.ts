/**
 * One lazily connected Connection per host, with a bound on connects in flight so that
 * starting 1000 hosts at once does not exhaust file descriptors or CPU (each ssh
 * handshake costs a key exchange).
 */

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

export class ConnectionPool {
  private readonly conns = new Map<string, Connection>();
  private readonly ready = new Map<string, Promise<Connection>>();
  private readonly limit: LimitFunction;
  private readonly factory: ConnectionFactory;

  constructor(opts: PoolOptions = {}) {
    this.limit = pLimit(Math.max(1, opts.maxConcurrentConnects ?? 32));
    const ssh = opts.sshOptions ?? {};
    this.factory = opts.factory ?? ((spec) => createConnection(spec, ssh));
  }

  /**
   * The host's connection, connected. A failed connect rejects (UnreachableError) and is
   * retried on the next call; a connection that dropped later reconnects on its next run.
   */
  get(spec: ConnectionSpec): Promise<Connection> {
    const existing = this.ready.get(spec.host);
    if (existing) return existing;
    let conn = this.conns.get(spec.host);
    if (!conn) {
      conn = this.factory(spec);
      this.conns.set(spec.host, conn);
    }
    const c = conn;
    const p = this.limit(() => c.connect()).then(
      () => c,
      (e: unknown) => {
        this.ready.delete(spec.host);
        throw e;
      },
    );
    this.ready.set(spec.host, p);
    return p;
  }

  /** The host's connection if one was created, without connecting. */
  peek(host: string): Connection | undefined {
    return this.conns.get(host);
  }

  get size(): number {
    return this.conns.size;
  }

  async close(host: string): Promise<void> {
    const c = this.conns.get(host);
    this.conns.delete(host);
    this.ready.delete(host);
    await c?.close();
  }

  async closeAll(): Promise<void> {
    const all = [...this.conns.values()];
    this.conns.clear();
    this.ready.clear();
    await Promise.allSettled(all.map((c) => c.close()));
  }
}
