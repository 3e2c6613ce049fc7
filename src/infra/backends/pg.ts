/**
 * State in PostgreSQL, like Terraform's `pg` backend: a schema (default `drover_remote_state`)
 * holding `states` (one row per workspace), `state_backups` (the version each write replaced)
 * and `locks` (who holds the lock, so a refused writer can name them). The lock itself is a
 * session-level `pg_try_advisory_lock` held on this backend's connection: a process that dies
 * releases it with its connection, so a crash never leaves the state locked for good.
 */

import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
// loaded on first use: pg (and the fetch stack it touches) costs ~0.1 s of every drover start
import type pg from 'pg';
import { DroverError, ExitCode } from '../../errors.js';
import { type Backend, type LockInfo, StateLockedError } from '../backend.js';
import { quoteIdent } from '../providers/postgresql.js';

/** The pg backend could not reach or use its database. */
export class PgBackendError extends DroverError {
  readonly exitCode = ExitCode.error;
}

export interface PgBackendOptions {
  connStr: string;
  /** Default `drover_remote_state` (Terraform: `terraform_remote_state`). */
  schemaName?: string;
  /** Default `default`. */
  workspace?: string;
  /** The schema and tables exist already (created by a DBA); init only checks them. */
  skipSchemaCreation?: boolean;
  /** How often a waiting `lock` retries. Default 500 ms. */
  retryMs?: number;
}

function redactConnStr(connStr: string): string {
  try {
    const u = new URL(connStr);
    if (u.password) u.password = '****';
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'the configured server';
  }
}

/** Backend options as written in config (`backend: {pg: {conn_str, schema_name, skip_schema_creation}}`). */
export interface PgBackendConfig {
  conn_str?: unknown;
  schema_name?: unknown;
  skip_schema_creation?: unknown;
  workspace?: unknown;
}

/** Options from either spelling, with Terraform's PG_CONN_STR / PG_SCHEMA_NAME environment as fallback. */
export function pgBackendOptions(
  o: Partial<PgBackendOptions> & PgBackendConfig,
  env = process.env,
): PgBackendOptions {
  const s = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const connStr = s(o.connStr) ?? s(o.conn_str) ?? s(env.PG_CONN_STR);
  if (connStr === undefined) {
    throw new PgBackendError(
      'the pg backend needs conn_str',
      'set backend.pg.conn_str or the PG_CONN_STR environment variable',
    );
  }
  const out: PgBackendOptions = { connStr };
  const schemaName = s(o.schemaName) ?? s(o.schema_name) ?? s(env.PG_SCHEMA_NAME);
  if (schemaName !== undefined) out.schemaName = schemaName;
  const workspace = s(o.workspace) ?? s(env.DROVER_WORKSPACE);
  if (workspace !== undefined) out.workspace = workspace;
  const skip = o.skipSchemaCreation ?? o.skip_schema_creation ?? env.PG_SKIP_SCHEMA_CREATION;
  if (skip === true || skip === 'true' || skip === '1') out.skipSchemaCreation = true;
  if (o.retryMs !== undefined) out.retryMs = o.retryMs;
  return out;
}

export function createPgBackend(given: Partial<PgBackendOptions> & PgBackendConfig): Backend {
  const opts = pgBackendOptions(given);
  const schemaName = opts.schemaName ?? 'drover_remote_state';
  const workspace = opts.workspace ?? 'default';
  const retryMs = opts.retryMs ?? 500;
  const schema = quoteIdent(schemaName);
  const where = `pg backend ${schemaName}/${workspace} on ${redactConnStr(opts.connStr)}`;
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let initialised = false;
  let heldLock: string | undefined;
  // Set when the session holding our lock ended (force-unlock, server restart): from then on
  // this process writes nothing, or it would write unlocked over someone else's changes.
  let lostLock: string | undefined;

  const connect = async (): Promise<pg.Client> => {
    if (client) return client;
    if (!connecting) {
      connecting = (async () => {
        const { default: pgLib } = await import('pg');
        const c = new pgLib.Client({ connectionString: opts.connStr, connectionTimeoutMillis: 10_000 });
        c.on('error', (err: Error) => {
          // The server went away (or force-unlock ended this session): the next query fails with the reason.
          if (heldLock !== undefined) lostLock = `${heldLock} (${err.message})`;
          client = undefined;
          connecting = undefined;
          heldLock = undefined;
        });
        try {
          await c.connect();
        } catch (err) {
          connecting = undefined;
          await c.end().catch(() => undefined);
          throw new PgBackendError(
            `${where}: cannot connect: ${(err as Error).message}`,
            'check backend.pg.conn_str and that the server runs',
          );
        }
        client = c;
        return c;
      })();
    }
    return connecting;
  };

  const query = async (sql: string, params: unknown[] = []): Promise<pg.QueryResult> => {
    if (lostLock !== undefined) {
      throw new PgBackendError(
        `${where}: this process lost its state lock ${lostLock}; nothing more is written`,
        'someone ran force-unlock, or the server restarted: run the command again',
      );
    }
    const c = await connect();
    try {
      return await c.query(sql, params);
    } catch (err) {
      throw new PgBackendError(`${where}: ${(err as Error).message}`);
    }
  };

  const init = async (): Promise<void> => {
    if (initialised) return;
    const c = await connect();
    if (opts.skipSchemaCreation) {
      const r = await c.query(
        `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('states', 'state_backups', 'locks')`,
        [schemaName],
      );
      if ((r.rows[0] as { n: number }).n !== 3) {
        throw new PgBackendError(
          `${where}: skip_schema_creation is set but ${schemaName}.states, state_backups and locks do not all exist`,
          'create them once without skip_schema_creation (drover infra init), or ask the database owner to',
        );
      }
      initialised = true;
      return;
    }
    // Two first-time inits at once would race on CREATE SCHEMA IF NOT EXISTS (a unique violation).
    await c.query('BEGIN');
    try {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['drover-pg-backend-init']);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${schema}.states (name text PRIMARY KEY, data text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
      );
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${schema}.state_backups (name text PRIMARY KEY, data text NOT NULL, saved_at timestamptz NOT NULL DEFAULT now())`,
      );
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${schema}.locks (name text PRIMARY KEY, info jsonb NOT NULL, backend_pid integer NOT NULL)`,
      );
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw new PgBackendError(`${where}: cannot create schema ${schemaName}: ${(err as Error).message}`);
    }
    initialised = true;
  };

  const tryLock = async (): Promise<boolean> => {
    const r = await query('SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok', [
      schemaName,
      workspace,
    ]);
    return (r.rows[0] as { ok: boolean }).ok;
  };

  const unlockAdvisory = async (): Promise<void> => {
    await query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [schemaName, workspace]);
  };

  /** The recorded holder, if the advisory lock is really held by a live session. */
  const holder = async (): Promise<{ info: LockInfo; pid: number } | undefined> => {
    const r = await query(
      `SELECT l.info, l.backend_pid FROM ${schema}.locks l
        WHERE l.name = $1 AND EXISTS (
          SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted AND k.pid = l.backend_pid
             AND k.classid = (hashtext($2)::bigint & 4294967295)::oid AND k.objid = (hashtext($1)::bigint & 4294967295)::oid
             AND k.objsubid = 2)`,
      [workspace, schemaName],
    );
    const row = r.rows[0] as { info: LockInfo; backend_pid: number } | undefined;
    return row ? { info: row.info, pid: row.backend_pid } : undefined;
  };

  const lockedError = (h: LockInfo | undefined, waitedMs: number): StateLockedError => {
    const who = h
      ? `\n  ID:        ${h.id}\n  Path:      ${h.path}\n  Operation: ${h.operation}\n  Who:       ${h.who}\n  Version:   ${h.version}\n  Created:   ${h.created}`
      : '\n  (the holder left no lock info)';
    return new StateLockedError(
      `Error acquiring the state lock: ${where} is locked${waitedMs > 0 ? ` (waited ${Math.round(waitedMs / 1000)}s)` : ''}\n\nLock Info:${who}`,
      h,
    );
  };

  const backend: Backend = {
    description: where,
    init,
    async read() {
      await init();
      const r = await query(`SELECT data FROM ${schema}.states WHERE name = $1`, [workspace]);
      return (r.rows[0] as { data: string } | undefined)?.data;
    },
    async write(json) {
      try {
        JSON.parse(json);
      } catch (err) {
        throw new PgBackendError(
          `${where}: refusing to store state that is not JSON: ${(err as Error).message}`,
        );
      }
      await init();
      await query('SELECT 1'); // fails once the lock is lost
      const c = await connect();
      // One transaction: the previous version moves to state_backups and the new one lands, or neither.
      try {
        await c.query('BEGIN');
        await c.query(
          `INSERT INTO ${schema}.state_backups (name, data, saved_at)
             SELECT name, data, now() FROM ${schema}.states WHERE name = $1
           ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data, saved_at = EXCLUDED.saved_at`,
          [workspace],
        );
        await c.query(
          `INSERT INTO ${schema}.states (name, data, updated_at) VALUES ($1, $2, now())
           ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data, updated_at = EXCLUDED.updated_at`,
          [workspace, json],
        );
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw new PgBackendError(
          `${where}: writing state failed (nothing changed): ${(err as Error).message}`,
        );
      }
    },
    async lock(info, timeoutMs) {
      await init();
      const started = Date.now();
      for (;;) {
        if (await tryLock()) break;
        const waited = Date.now() - started;
        if (waited >= timeoutMs) throw lockedError((await holder())?.info, waited);
        await sleep(Math.min(retryMs, Math.max(1, timeoutMs - waited)));
      }
      const full: LockInfo = { ...info, id: randomUUID(), path: `${schemaName}/${workspace}` };
      const pid = (await query('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number };
      await query(
        `INSERT INTO ${schema}.locks (name, info, backend_pid) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET info = EXCLUDED.info, backend_pid = EXCLUDED.backend_pid`,
        [workspace, JSON.stringify(full), pid.pid],
      );
      heldLock = full.id;
      return full.id;
    },
    async unlock(id) {
      if (heldLock !== id) {
        throw new PgBackendError(
          `${where}: lock ${id} is not held by this process`,
          'a lock is released by the process that took it',
        );
      }
      await query(`DELETE FROM ${schema}.locks WHERE name = $1 AND info->>'id' = $2`, [workspace, id]);
      await unlockAdvisory();
      heldLock = undefined;
    },
    async lockInfo() {
      await init();
      return (await holder())?.info;
    },
    async forceUnlock(id) {
      await init();
      const h = await holder();
      if (!h) {
        // Nothing holds it; a stale row is cleared all the same.
        await query(`DELETE FROM ${schema}.locks WHERE name = $1`, [workspace]);
        return;
      }
      if (h.info.id !== id) {
        throw new PgBackendError(
          `${where}: lock ID "${id}" does not match the existing lock ID "${h.info.id}" (held by ${h.info.who}, ${h.info.operation} since ${h.info.created})`,
          `run \`drover infra force-unlock ${h.info.id}\` if that holder is really gone`,
        );
      }
      // The advisory lock lives in the holder's session: ending that session is the only way to free it.
      await query('SELECT pg_terminate_backend($1)', [h.pid]);
      // Termination is asynchronous: the lock is free once that session is gone.
      for (let i = 0; i < 100; i++) {
        const alive = await query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [h.pid]);
        if (alive.rowCount === 0) break;
        await sleep(50);
      }
      await query(`DELETE FROM ${schema}.locks WHERE name = $1 AND info->>'id' = $2`, [workspace, id]);
    },
    async close() {
      const c = client;
      client = undefined;
      connecting = undefined;
      heldLock = undefined;
      if (c) await c.end().catch(() => undefined);
    },
  };
  return backend;
}

/** `user@hostname`, for LockInfo.who. */
export function lockOwner(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry for this uid
  }
  return `${user}@${hostname()}`;
}
