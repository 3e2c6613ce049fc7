/**
 * postgresql_role / postgresql_database / postgresql_grant and the pg state backend against a
 * real PostgreSQL 15 cluster started for this file (test/lab/pg.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInfra } from '../../../cli/infra.js';
import { StateLockedError } from '../../../src/infra/backend.js';
import { createPgBackend } from '../../../src/infra/backends/pg.js';
import type { Attrs, ProviderContext } from '../../../src/infra/provider.js';
import {
  postgresqlDatabase,
  postgresqlGrant,
  postgresqlRole,
  quoteIdent,
  quoteLiteral,
} from '../../../src/infra/providers/postgresql.js';
import { type PgCluster, startPgCluster } from '../../lab/pg.js';
import { repoRoot } from '../../lab/repo-root.js';

let cluster: PgCluster;
let conn: Attrs;
// initdb and pg_ctl run as user postgres through runuser: root only (as the whole lab).
const asRoot = process.getuid?.() === 0;

function ctx(address: string): ProviderContext {
  return {
    dir: '/tmp',
    workDir: '/tmp',
    address,
    log: () => undefined,
    signal: new AbortController().signal,
  };
}

beforeAll(async () => {
  if (!asRoot) return;
  cluster = await startPgCluster({
    dir: join(repoRoot(), '.lab', 'infra-pg-unit'),
    portFrom: 25680,
    portTo: 25689,
  });
  conn = { conn_str: cluster.connStr };
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('quoting', () => {
  it('quotes identifiers and literals so that hostile names stay names', () => {
    expect(quoteIdent('app')).toBe('"app"');
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral('a\\b')).toBe("E'a\\\\b'");
    expect(() => quoteIdent('a\0b')).toThrow(/NUL/);
  });
});

describe.skipIf(!asRoot)('postgresql_role', () => {
  it('creates, reads, updates in place, renames, notices deletion and deletes', async () => {
    const name = 'app "weird"; DROP ROLE postgres; --';
    const created = await postgresqlRole.create(
      { connection: conn, name, login: true, password: "s3cr'et", create_database: true },
      ctx('postgresql_role.app'),
    );
    expect(created).toMatchObject({ name, id: name, login: true, create_database: true, superuser: false });
    expect(created.password).toBe("s3cr'et");
    expect(
      await cluster.psql(
        `SELECT rolcanlogin, rolcreatedb FROM pg_roles WHERE rolname = '${name.replaceAll("'", "''")}'`,
      ),
    ).toBe('t|t');
    // The password works: log in as the role over TCP (scram).
    const url = new URL(cluster.connStr);
    url.username = encodeURIComponent(name);
    url.password = encodeURIComponent("s3cr'et");
    const asRole = await postgresqlDatabase.read(
      { connection: { conn_str: url.toString() }, name: 'postgres' },
      ctx('x'),
    );
    expect(asRole?.name).toBe('postgres');

    const read = await postgresqlRole.read(created, ctx('postgresql_role.app'));
    expect(read).toEqual(created);

    const updated = await postgresqlRole.update!(
      created,
      { connection: conn, name: 'app2', login: false, connection_limit: 5 },
      ctx('postgresql_role.app'),
    );
    expect(updated).toMatchObject({
      name: 'app2',
      login: false,
      connection_limit: 5,
      create_database: false,
    });
    expect(updated.password).toBeUndefined();
    expect(
      await cluster.psql(`SELECT count(*) FROM pg_roles WHERE rolname = '${name.replaceAll("'", "''")}'`),
    ).toBe('0');

    await cluster.psql('DROP ROLE app2');
    expect(await postgresqlRole.read(updated, ctx('postgresql_role.app'))).toBeUndefined();
    await postgresqlRole.delete(updated, ctx('postgresql_role.app')); // already gone: fine
  });

  it('imports an existing role by name (connection from the config or the PG* environment)', async () => {
    await cluster.psql('CREATE ROLE imported LOGIN CREATEDB');
    const a = await postgresqlRole.import!('imported', ctx('postgresql_role.imp'), {
      connection: conn,
    } as never);
    expect(a).toMatchObject({ name: 'imported', login: true, create_database: true, connection: conn });
    await expect(
      postgresqlRole.import!('nobody', ctx('postgresql_role.imp'), { connection: conn } as never),
    ).rejects.toThrow(/no role named nobody/);
    await postgresqlRole.delete(a, ctx('postgresql_role.imp'));
    expect(await cluster.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'imported'")).toBe('0');
  });

  it('infra import takes the connection from the resource block, variables evaluated (no PG* env)', async () => {
    await cluster.psql('CREATE ROLE imported2 LOGIN');
    const dir = mkdtempSync(join(tmpdir(), 'drover-pg-import-'));
    writeFileSync(
      join(dir, 'main.infra.yml'),
      [
        'variables:',
        '  pg: {type: string}',
        'resources:',
        '  postgresql_role:',
        '    imp: {name: imported2, login: true, connection: {conn_str: "{{ var.pg }}"}}',
        '',
      ].join('\n'),
    );
    const saved = Object.fromEntries(
      Object.keys(process.env)
        .filter((k) => k.startsWith('PG'))
        .map((k) => [k, process.env[k]]),
    );
    for (const k of Object.keys(saved)) delete process.env[k];
    let err = '';
    try {
      const run = (...args: string[]) =>
        runInfra(['-chdir', dir, ...args, '-var', `pg=${cluster.connStr}`], {
          write: () => undefined,
          writeErr: (t) => (err += t),
          ask: async () => undefined,
        });
      expect(await run('import', 'postgresql_role.imp', 'imported2'), err).toBe(0);
      const state = JSON.parse(readFileSync(join(dir, 'drover.tfstate.json'), 'utf8')) as {
        resources: { address: string; attributes: Attrs }[];
      };
      expect(state.resources[0]).toMatchObject({
        address: 'postgresql_role.imp',
        attributes: { name: 'imported2', login: true, connection: { conn_str: cluster.connStr } },
      });
      expect(await run('plan', '-detailed-exitcode'), err).toBe(0);
    } finally {
      Object.assign(process.env, saved);
      await cluster.psql('DROP ROLE imported2');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes createdb as the SQL spelling of create_database, storing the server value under it', async () => {
    const a = await postgresqlRole.create({ connection: conn, name: 'alias', createdb: true }, ctx('r'));
    expect(a).toMatchObject({ createdb: true, create_database: true, create_role: false });
    expect(a.createrole).toBeUndefined();
    await cluster.psql('ALTER ROLE alias NOCREATEDB');
    expect(await postgresqlRole.read(a, ctx('r'))).toMatchObject({ createdb: false, create_database: false });
    expect(
      postgresqlRole.validate!({ name: 'x', createdb: true, create_database: false })[0]?.message,
    ).toMatch(/createdb and create_database are the same setting and disagree/);
    await postgresqlRole.delete(a, ctx('r'));
  });

  it('names the server when it cannot connect, without the password', async () => {
    const err = await postgresqlRole
      .read(
        { connection: { conn_str: 'postgres://u:hunter2@127.0.0.1:1/db' }, name: 'x' },
        ctx('postgresql_role.x'),
      )
      .catch((e: unknown) => e as Error);
    expect(String(err)).toMatch(/postgresql_role\.x: cannot connect to PostgreSQL at 127\.0\.0\.1:1\/db/);
    expect(String(err)).not.toContain('hunter2');
  });

  it('validates the connection map and names', () => {
    expect(
      postgresqlRole.validate!({ name: '', connection: { hots: 'x', sslmode: 'maybe' } }).map(
        (p) => p.message,
      ),
    ).toEqual([
      expect.stringMatching(/unknown connection setting "hots"/),
      expect.stringMatching(/sslmode "maybe"/),
      expect.stringMatching(/name must be 1 to 63/),
    ]);
  });
});

describe.skipIf(!asRoot)('postgresql_database and postgresql_grant', () => {
  it('creates a database owned by a role, grants exactly the listed privileges, notices drift, deletes everything', async () => {
    const role = await postgresqlRole.create(
      { connection: conn, name: 'web', login: true, password: 'pw' },
      ctx('postgresql_role.web'),
    );
    const db = await postgresqlDatabase.create(
      { connection: conn, name: 'web db', owner: 'postgres' },
      ctx('postgresql_database.web'),
    );
    expect(db).toMatchObject({
      name: 'web db',
      owner: 'postgres',
      encoding: 'UTF8',
      template: 'template0',
      lc_collate: 'C',
    });
    expect(await postgresqlDatabase.read(db, ctx('postgresql_database.web'))).toEqual(db);

    const dbUpdated = await postgresqlDatabase.update!(
      db,
      { connection: conn, name: 'web db', owner: 'web', connection_limit: 20 },
      ctx('d'),
    );
    expect(dbUpdated).toMatchObject({ owner: 'web', connection_limit: 20 });

    const g = await postgresqlGrant.create(
      {
        connection: conn,
        role: 'web',
        database: 'web db',
        object_type: 'database',
        privileges: ['connect', 'temp'],
      },
      ctx('postgresql_grant.web'),
    );
    expect(g.privileges).toEqual(['CONNECT', 'TEMPORARY']);
    expect(g.id).toBe('web|web db|database');
    expect(await postgresqlGrant.read(g, ctx('g'))).toEqual(g);

    // Drift: someone revokes TEMPORARY by hand; read shows it, update puts it back.
    await cluster.psql('REVOKE TEMPORARY ON DATABASE "web db" FROM web');
    expect((await postgresqlGrant.read(g, ctx('g')))?.privileges).toEqual(['CONNECT']);

    // Table grants connect to the database they name and cover every table in the schema.
    await cluster.psql('CREATE TABLE t1 (a int); CREATE TABLE t2 (a int);', 'web db');
    const tg = await postgresqlGrant.create(
      {
        connection: conn,
        role: 'web',
        database: 'web db',
        object_type: 'table',
        schema: 'public',
        privileges: ['SELECT', 'INSERT'],
      },
      ctx('postgresql_grant.tables'),
    );
    expect(tg.privileges).toEqual(['INSERT', 'SELECT']);
    expect(await cluster.psql("SELECT has_table_privilege('web', 't2', 'INSERT')", 'web db')).toBe('t');
    const tgLess = await postgresqlGrant.update!(tg, { ...tg, privileges: ['SELECT'] }, ctx('g'));
    expect(tgLess.privileges).toEqual(['SELECT']);
    expect(await cluster.psql("SELECT has_table_privilege('web', 't2', 'INSERT')", 'web db')).toBe('f');

    const imported = await postgresqlGrant.import!('web|web db|table|public', ctx('g'), {
      connection: conn,
    } as never);
    expect(imported.privileges).toEqual(['SELECT']);

    expect(
      postgresqlGrant.validate!({
        role: 'web',
        database: 'x',
        object_type: 'table',
        privileges: ['CONNECT'],
      }).map((p) => p.message),
    ).toEqual([
      expect.stringMatching(/schema is required/),
      expect.stringMatching(/"CONNECT" does not apply to a table/),
    ]);

    await postgresqlGrant.delete(tgLess, ctx('g'));
    expect(await cluster.psql("SELECT has_table_privilege('web', 't1', 'SELECT')", 'web db')).toBe('f');
    await postgresqlGrant.delete(g, ctx('g'));
    await postgresqlDatabase.delete(dbUpdated, ctx('d'));
    await postgresqlGrant.delete(g, ctx('g')); // the database is gone: still fine
    expect(await postgresqlGrant.read(g, ctx('g'))).toBeUndefined();
    await postgresqlRole.delete(role, ctx('r'));
    expect(await cluster.psql("SELECT count(*) FROM pg_database WHERE datname = 'web db'")).toBe('0');
    expect(await cluster.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'web'")).toBe('0');
  });
});

describe.skipIf(!asRoot)('pg state backend', () => {
  it('creates its schema, keeps the previous version, and locks across connections naming the holder', async () => {
    const a = createPgBackend({ connStr: cluster.connStr, schemaName: 'state test' });
    const b = createPgBackend({ connStr: cluster.connStr, schemaName: 'state test' });
    try {
      await a.init();
      await b.init();
      expect(await a.read()).toBeUndefined();
      await a.write('{"serial":1}');
      await a.write('{"serial":2}');
      expect(await b.read()).toBe('{"serial":2}');
      expect(await cluster.psql('SELECT data FROM "state test".state_backups')).toBe('{"serial":1}');
      await expect(a.write('{torn')).rejects.toThrow(/not JSON/);
      expect(await b.read()).toBe('{"serial":2}');

      const id = await a.lock(
        { operation: 'apply', who: 'alice@box', created: new Date().toISOString(), version: '0.1.0' },
        0,
      );
      const err = await b
        .lock({ operation: 'plan', who: 'bob@box', created: '', version: '' }, 0)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateLockedError);
      expect((err as StateLockedError).holder).toMatchObject({ id, who: 'alice@box', operation: 'apply' });
      expect(String((err as Error).message)).toMatch(/Who:\s+alice@box/);
      expect((await b.lockInfo())?.id).toBe(id);

      // -lock-timeout: b waits and gets it once a releases.
      const waiting = b.lock({ operation: 'plan', who: 'bob@box', created: '', version: '' }, 10_000);
      setTimeout(() => void a.unlock(id), 300);
      const id2 = await waiting;
      expect((await a.lockInfo())?.who).toBe('bob@box');

      // force-unlock needs the right id, and frees a lock whose holder is stuck.
      await expect(a.forceUnlock('wrong')).rejects.toThrow(/does not match the existing lock ID/);
      await a.forceUnlock(id2);
      expect(await a.lockInfo()).toBeUndefined();
      // The holder whose session was ended writes nothing more.
      await new Promise((r) => setTimeout(r, 100));
      await expect(b.write('{"serial":3}')).rejects.toThrow(/lost its state lock/);
      expect(await a.read()).toBe('{"serial":2}');
      const id3 = await a.lock({ operation: 'apply', who: 'alice@box', created: '', version: '' }, 0);
      // A holder that dies (its connection closes) releases the lock by itself.
      await a.close();
      const c = createPgBackend({ connStr: cluster.connStr, schemaName: 'state test' });
      expect(await c.lockInfo()).toBeUndefined();
      await c.close();
      expect(id3).not.toBe(id2);
    } finally {
      await a.close();
      await b.close();
    }
    await cluster.psql('DROP SCHEMA "state test" CASCADE');
  });
});
