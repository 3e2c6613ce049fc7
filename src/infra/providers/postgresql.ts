/**
 * `postgresql_role`, `postgresql_database`, `postgresql_grant` against a real server (like
 * Terraform's cyrilgdn/postgresql provider). Connection settings come from the resource's
 * `connection` map (`conn_str`, or `host`/`port`/`user`/`password`/`dbname`/`sslmode`),
 * falling back to the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE).
 */
// loaded on first use: pg (and the fetch stack it touches) costs ~0.1 s of every drover start
import type pg from 'pg';
import { DroverError, ExitCode } from '../../errors.js';
import type { AttrSchema, Attrs, AttrValue, Provider, ProviderContext, ResourceType } from '../provider.js';

/** A server refused or failed an operation; the message names the resource and the SQL error. */
export class PostgresError extends DroverError {
  readonly exitCode = ExitCode.error;
}

/** `"name"` with inner double quotes doubled: safe for any identifier (NUL refused). */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new PostgresError(`identifier ${JSON.stringify(name)} contains a NUL byte`);
  return `"${name.replaceAll('"', '""')}"`;
}

/** A string literal for the few DDL places that take no bind parameters (PASSWORD, VALID UNTIL). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new PostgresError('a string literal contains a NUL byte');
  const body = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${body.replaceAll('\\', '\\\\')}'` : `'${body}'`;
}

export interface PgConnection {
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  ssl?: boolean | { rejectUnauthorized: boolean };
}

function asRecord(v: AttrValue | undefined): Record<string, AttrValue> {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

function text(v: AttrValue | undefined): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return typeof v === 'string' ? v : String(v);
}

/** Client settings from a `connection` map (or the libpq environment), optionally for another database. */
export function connectionSettings(conn: AttrValue | undefined, database?: string): PgConnection {
  const c = asRecord(conn);
  const env = process.env;
  const sslmode = text(c.sslmode) ?? env.PGSSLMODE;
  const ssl =
    sslmode === undefined || sslmode === 'disable' || sslmode === 'allow' || sslmode === 'prefer'
      ? undefined
      : sslmode === 'require'
        ? { rejectUnauthorized: false }
        : true;
  const connStr = text(c.conn_str);
  if (connStr !== undefined) {
    if (database === undefined) return { connectionString: connStr, ...(ssl ? { ssl } : {}) };
    // Another database on the same server (grants on schemas/tables must connect to it).
    const parsed = new URL(connStr.replace(/^postgresql:/, 'postgres:'));
    parsed.pathname = `/${encodeURIComponent(database)}`;
    return { connectionString: parsed.toString(), ...(ssl ? { ssl } : {}) };
  }
  const port = text(c.port) ?? env.PGPORT;
  const out: PgConnection = {
    host: text(c.host) ?? env.PGHOST ?? '127.0.0.1',
    port: port === undefined ? 5432 : Number(port),
    user: text(c.user) ?? text(c.username) ?? env.PGUSER ?? 'postgres',
    database: database ?? text(c.dbname) ?? text(c.database) ?? env.PGDATABASE ?? 'postgres',
  };
  const password = text(c.password) ?? env.PGPASSWORD;
  if (password !== undefined) out.password = password;
  if (ssl) out.ssl = ssl;
  return out;
}

function describeServer(s: PgConnection): string {
  if (s.connectionString) {
    try {
      const u = new URL(s.connectionString);
      return `${u.hostname}:${u.port || 5432}${u.pathname}`;
    } catch {
      return 'the server in conn_str';
    }
  }
  return `${s.host}:${s.port}/${s.database}`;
}

/** Runs `fn` with a connected client, always closing it; connection errors name the server. */
export async function withClient<T>(
  settings: PgConnection,
  what: string,
  fn: (c: pg.Client) => Promise<T>,
): Promise<T> {
  const { default: pgLib } = await import('pg');
  const client = new pgLib.Client({ ...settings, connectionTimeoutMillis: 10_000 });
  // An error after connect (server shut down) must not crash the process as an unhandled event.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new PostgresError(
      `${what}: cannot connect to PostgreSQL at ${describeServer(settings)}: ${(err as Error).message}`,
      'check the connection settings (conn_str or host/port/user/password) and that the server runs',
    );
  }
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof DroverError) throw err;
    throw new PostgresError(`${what}: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

// Not sensitive as a whole: masking it would mask its host and user names wherever they
// appear (e.g. "postgres" inside "postgresql_role"). Passwords come from sensitive variables
// (masked everywhere) or PGPASSWORD.
const connectionAttr: AttrSchema = {
  type: 'map',
  optional: true,
  description:
    'server to manage: {conn_str} or {host, port, user, password, dbname, sslmode}; default: the PG* environment',
};

function bool(a: Attrs, k: string, dflt: boolean): boolean {
  const v = a[k];
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'boolean') return v;
  return ['true', 'yes', '1', 'on'].includes(String(v).toLowerCase());
}

function num(a: Attrs, k: string, dflt: number): number {
  const v = a[k];
  if (v === undefined || v === null || v === '') return dflt;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : dflt;
}

function str(a: Attrs, k: string, dflt = ''): string {
  return text(a[k]) ?? dflt;
}

function strList(v: AttrValue | undefined): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => String(x));
}

function withDefaults(config: Attrs, attrs: Record<string, AttrSchema>): Attrs {
  const out: Attrs = {};
  for (const [k, s] of Object.entries(attrs)) {
    if (config[k] !== undefined && config[k] !== null) out[k] = config[k];
    else if (s.default !== undefined) out[k] = s.default;
  }
  return out;
}

/** Values as stored: booleans and numbers normalised so that read() and config compare equal. */
function normalise(a: Attrs, attrs: Record<string, AttrSchema>): Attrs {
  const out: Attrs = { ...a };
  for (const [k, s] of Object.entries(attrs)) {
    const v = out[k];
    if (v === undefined || v === null) continue;
    if (s.type === 'bool') out[k] = bool(out, k, false);
    else if (s.type === 'number') out[k] = num(out, k, 0);
    else if (s.type === 'list') out[k] = strList(v).sort();
  }
  return out;
}

function validName(config: Attrs, key: string, problems: { attribute?: string; message: string }[]): void {
  const v = config[key];
  if (typeof v === 'string' && (v === '' || v.length > 63)) {
    problems.push({
      attribute: key,
      message: `${key} must be 1 to 63 characters (PostgreSQL truncates longer names)`,
    });
  }
}

function validConnection(config: Attrs): { attribute?: string; message: string }[] {
  const c = asRecord(config.connection);
  const known = ['conn_str', 'host', 'port', 'user', 'username', 'password', 'dbname', 'database', 'sslmode'];
  const problems: { attribute?: string; message: string }[] = [];
  for (const k of Object.keys(c)) {
    if (!known.includes(k))
      problems.push({
        attribute: 'connection',
        message: `unknown connection setting "${k}" (known: ${known.join(', ')})`,
      });
  }
  const sslmode = text(c.sslmode);
  if (sslmode && !['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(sslmode)) {
    problems.push({
      attribute: 'connection',
      message: `sslmode "${sslmode}" is not one of disable, allow, prefer, require, verify-ca, verify-full`,
    });
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// postgresql_role

const roleAttrs: Record<string, AttrSchema> = {
  connection: connectionAttr,
  name: { type: 'string', required: true, description: 'role name (renamed in place)' },
  login: { type: 'bool', optional: true, default: false },
  password: { type: 'string', optional: true, sensitive: true },
  superuser: { type: 'bool', optional: true, default: false },
  // Optional + computed without a default, so that either spelling may be set alone.
  create_database: { type: 'bool', optional: true, computed: true, description: 'CREATEDB (default false)' },
  createdb: { type: 'bool', optional: true, description: 'the same as create_database' },
  create_role: { type: 'bool', optional: true, computed: true, description: 'CREATEROLE (default false)' },
  createrole: { type: 'bool', optional: true, description: 'the same as create_role' },
  inherit: { type: 'bool', optional: true, default: true },
  replication: { type: 'bool', optional: true, default: false },
  connection_limit: { type: 'number', optional: true, default: -1 },
  valid_until: { type: 'string', optional: true, default: 'infinity' },
  roles: { type: 'list', optional: true, default: [], description: 'roles this role is a member of' },
  id: { type: 'string', computed: true },
};

const ROLE_ALIASES: [string, string][] = [
  ['createdb', 'create_database'],
  ['createrole', 'create_role'],
];

/** `createdb` is an alias of `create_database` (the SQL keyword), `createrole` of `create_role`. */
function roleConfig(config: Attrs): Attrs {
  const c = normalise(withDefaults(config, roleAttrs), roleAttrs);
  for (const [alias, name] of ROLE_ALIASES) {
    if (c[name] === undefined) c[name] = c[alias] ?? false;
  }
  return c;
}

function roleOptions(a: Attrs): string {
  const flag = (k: string, word: string) => (bool(a, k, false) ? word : `NO${word}`);
  const parts = [
    flag('login', 'LOGIN'),
    flag('superuser', 'SUPERUSER'),
    flag('create_database', 'CREATEDB'),
    flag('create_role', 'CREATEROLE'),
    bool(a, 'inherit', true) ? 'INHERIT' : 'NOINHERIT',
    flag('replication', 'REPLICATION'),
    `CONNECTION LIMIT ${Math.trunc(num(a, 'connection_limit', -1))}`,
    `VALID UNTIL ${quoteLiteral(str(a, 'valid_until', 'infinity'))}`,
  ];
  return parts.join(' ');
}

async function readRole(c: pg.Client, name: string): Promise<Attrs | undefined> {
  const r = await c.query(
    `SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication,
            rolconnlimit, COALESCE(rolvaliduntil::text, 'infinity') AS valid_until,
            ARRAY(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid
                  WHERE m.member = r.oid ORDER BY 1)::text[] AS roles
       FROM pg_roles r WHERE rolname = $1`,
    [name],
  );
  const row = r.rows[0] as
    | {
        rolname: string;
        rolcanlogin: boolean;
        rolsuper: boolean;
        rolcreatedb: boolean;
        rolcreaterole: boolean;
        rolinherit: boolean;
        rolreplication: boolean;
        rolconnlimit: number;
        valid_until: string;
        roles: string[];
      }
    | undefined;
  if (!row) return undefined;
  return {
    name: row.rolname,
    id: row.rolname,
    login: row.rolcanlogin,
    superuser: row.rolsuper,
    create_database: row.rolcreatedb,
    create_role: row.rolcreaterole,
    inherit: row.rolinherit,
    replication: row.rolreplication,
    connection_limit: row.rolconnlimit,
    valid_until: row.valid_until,
    roles: [...row.roles].sort(),
  };
}

async function syncMemberships(c: pg.Client, name: string, want: string[], have: string[]): Promise<void> {
  for (const r of want.filter((x) => !have.includes(x)))
    await c.query(`GRANT ${quoteIdent(r)} TO ${quoteIdent(name)}`);
  for (const r of have.filter((x) => !want.includes(x)))
    await c.query(`REVOKE ${quoteIdent(r)} FROM ${quoteIdent(name)}`);
}

function validUntilSame(a: string, b: string): boolean {
  if (a === b) return true;
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return Number.isFinite(ta) && ta === tb;
}

/** The stored view of a role: what the server says, plus what it cannot say (password, connection). */
function roleState(config: Attrs, live: Attrs): Attrs {
  const out: Attrs = { ...live };
  if (config.connection !== undefined) out.connection = config.connection;
  if (config.password !== undefined) out.password = config.password;
  // An alias the config uses is stored with the server's value, so drift shows under it too.
  for (const [alias, name] of ROLE_ALIASES) if (config[alias] !== undefined) out[alias] = live[name] ?? null;
  // The server prints timestamps its own way; keep the configured spelling when it means the same instant.
  if (
    typeof config.valid_until === 'string' &&
    validUntilSame(config.valid_until, str(live, 'valid_until'))
  ) {
    out.valid_until = config.valid_until;
  }
  return out;
}

export const postgresqlRole: ResourceType = {
  schema: {
    type: 'postgresql_role',
    description: 'a PostgreSQL role (user or group)',
    attributes: roleAttrs,
  },
  validate(config) {
    const problems = validConnection(config);
    validName(config, 'name', problems);
    for (const [alias, name] of ROLE_ALIASES) {
      if (
        config[alias] !== undefined &&
        config[name] !== undefined &&
        bool(config, alias, false) !== bool(config, name, false)
      ) {
        problems.push({
          attribute: alias,
          message: `${alias} and ${name} are the same setting and disagree: set one`,
        });
      }
    }
    const limit = config.connection_limit;
    if (typeof limit === 'number' && (!Number.isInteger(limit) || limit < -1)) {
      problems.push({
        attribute: 'connection_limit',
        message: 'connection_limit must be an integer >= -1 (-1: no limit)',
      });
    }
    return problems;
  },
  plan(config) {
    const a = roleConfig(config);
    if (typeof a.name === 'string') a.id = a.name;
    return a;
  },
  async create(config, ctx) {
    const a = roleConfig(config);
    const name = str(a, 'name');
    return withClient(connectionSettings(a.connection), ctx.address, async (c) => {
      const pw =
        a.password !== undefined && a.password !== null
          ? ` PASSWORD ${quoteLiteral(str(a, 'password'))}`
          : '';
      await c.query(`CREATE ROLE ${quoteIdent(name)} WITH ${roleOptions(a)}${pw}`);
      await syncMemberships(c, name, strList(a.roles), []);
      const live = await readRole(c, name);
      if (!live) throw new PostgresError(`${ctx.address}: role ${name} vanished right after CREATE ROLE`);
      return roleState(a, live);
    });
  },
  async read(state, ctx) {
    const name = str(state, 'name');
    return withClient(connectionSettings(state.connection), ctx.address, async (c) => {
      const live = await readRole(c, name);
      return live ? roleState(state, live) : undefined;
    });
  },
  async update(prior, config, ctx) {
    const a = roleConfig(config);
    const oldName = str(prior, 'name');
    const name = str(a, 'name');
    return withClient(connectionSettings(a.connection), ctx.address, async (c) => {
      await c.query('BEGIN');
      try {
        if (oldName !== name)
          await c.query(`ALTER ROLE ${quoteIdent(oldName)} RENAME TO ${quoteIdent(name)}`);
        const pw =
          a.password !== undefined && a.password !== null
            ? ` PASSWORD ${quoteLiteral(str(a, 'password'))}`
            : prior.password !== undefined && prior.password !== null
              ? ' PASSWORD NULL'
              : '';
        await c.query(`ALTER ROLE ${quoteIdent(name)} WITH ${roleOptions(a)}${pw}`);
        const before = await readRole(c, name);
        await syncMemberships(c, name, strList(a.roles), strList(before?.roles));
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      const live = await readRole(c, name);
      if (!live) throw new PostgresError(`${ctx.address}: role ${name} vanished during the update`);
      return roleState(a, live);
    });
  },
  async delete(state, ctx) {
    const name = str(state, 'name');
    await withClient(connectionSettings(state.connection), ctx.address, async (c) => {
      const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
      if (exists.rowCount === 0) return;
      // Objects it owns or privileges it holds in this database would block DROP ROLE.
      await c.query(`REASSIGN OWNED BY ${quoteIdent(name)} TO CURRENT_USER`).catch(() => undefined);
      await c.query(`DROP OWNED BY ${quoteIdent(name)}`).catch(() => undefined);
      await c.query(`DROP ROLE IF EXISTS ${quoteIdent(name)}`);
    });
  },
  async import(id: string, ctx: ProviderContext, config?: Attrs) {
    const connection = config?.connection;
    return withClient(connectionSettings(connection), ctx.address, async (c) => {
      const live = await readRole(c, id);
      if (!live)
        throw new PostgresError(
          `${ctx.address}: no role named ${id} on the server`,
          'import takes the role name as the id',
        );
      return connection === undefined ? live : { ...live, connection };
    });
  },
};

// ---------------------------------------------------------------------------------------------
// postgresql_database

const dbAttrs: Record<string, AttrSchema> = {
  connection: connectionAttr,
  name: { type: 'string', required: true, description: 'database name (renamed in place)' },
  owner: { type: 'string', optional: true, computed: true },
  encoding: { type: 'string', optional: true, forceNew: true, default: 'UTF8' },
  lc_collate: { type: 'string', optional: true, computed: true, forceNew: true },
  lc_ctype: { type: 'string', optional: true, computed: true, forceNew: true },
  template: { type: 'string', optional: true, forceNew: true, default: 'template0' },
  connection_limit: { type: 'number', optional: true, default: -1 },
  allow_connections: { type: 'bool', optional: true, default: true },
  is_template: { type: 'bool', optional: true, default: false },
  id: { type: 'string', computed: true },
};

async function readDatabase(c: pg.Client, name: string): Promise<Attrs | undefined> {
  const r = await c.query(
    `SELECT d.datname, pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding,
            d.datcollate, d.datctype, d.datconnlimit, d.datallowconn, d.datistemplate
       FROM pg_database d WHERE d.datname = $1`,
    [name],
  );
  const row = r.rows[0] as
    | {
        datname: string;
        owner: string;
        encoding: string;
        datcollate: string;
        datctype: string;
        datconnlimit: number;
        datallowconn: boolean;
        datistemplate: boolean;
      }
    | undefined;
  if (!row) return undefined;
  return {
    name: row.datname,
    id: row.datname,
    owner: row.owner,
    encoding: row.encoding,
    lc_collate: row.datcollate,
    lc_ctype: row.datctype,
    connection_limit: row.datconnlimit,
    allow_connections: row.datallowconn,
    is_template: row.datistemplate,
  };
}

function dbState(config: Attrs, live: Attrs): Attrs {
  const out: Attrs = { ...live, template: config.template ?? 'template0' };
  if (config.connection !== undefined) out.connection = config.connection;
  // PostgreSQL answers UTF8 for utf8/utf-8/UTF8: keep the configured spelling when equivalent.
  const enc = text(config.encoding);
  if (
    enc &&
    enc.replace(/[-_]/g, '').toUpperCase() === str(live, 'encoding').replace(/[-_]/g, '').toUpperCase()
  ) {
    out.encoding = enc;
  }
  return out;
}

async function alterDatabase(c: pg.Client, a: Attrs, current: Attrs | undefined): Promise<void> {
  const name = quoteIdent(str(a, 'name'));
  const owner = text(a.owner);
  if (owner !== undefined && owner !== current?.owner)
    await c.query(`ALTER DATABASE ${name} OWNER TO ${quoteIdent(owner)}`);
  const limit = Math.trunc(num(a, 'connection_limit', -1));
  const allow = bool(a, 'allow_connections', true);
  const tmpl = bool(a, 'is_template', false);
  if (
    current?.connection_limit !== limit ||
    current?.allow_connections !== allow ||
    current?.is_template !== tmpl
  ) {
    await c.query(
      `ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS ${allow} CONNECTION LIMIT ${limit} IS_TEMPLATE ${tmpl}`,
    );
  }
}

export const postgresqlDatabase: ResourceType = {
  schema: { type: 'postgresql_database', description: 'a PostgreSQL database', attributes: dbAttrs },
  validate(config) {
    const problems = validConnection(config);
    validName(config, 'name', problems);
    return problems;
  },
  plan(config, prior) {
    const a = normalise(withDefaults(config, dbAttrs), dbAttrs);
    if (typeof a.name === 'string') a.id = a.name;
    // Computed values stay as they are unless configured.
    for (const k of ['owner', 'lc_collate', 'lc_ctype'])
      if (a[k] === undefined && prior?.[k] !== undefined) a[k] = prior[k] ?? null;
    return a;
  },
  async create(config, ctx) {
    const a = normalise(withDefaults(config, dbAttrs), dbAttrs);
    const name = str(a, 'name');
    return withClient(connectionSettings(a.connection), ctx.address, async (c) => {
      const parts = [
        `CREATE DATABASE ${quoteIdent(name)}`,
        `TEMPLATE ${quoteIdent(str(a, 'template', 'template0'))}`,
      ];
      parts.push(`ENCODING ${quoteLiteral(str(a, 'encoding', 'UTF8'))}`);
      if (text(a.lc_collate)) parts.push(`LC_COLLATE ${quoteLiteral(str(a, 'lc_collate'))}`);
      if (text(a.lc_ctype)) parts.push(`LC_CTYPE ${quoteLiteral(str(a, 'lc_ctype'))}`);
      if (text(a.owner)) parts.push(`OWNER ${quoteIdent(str(a, 'owner'))}`);
      await c.query(parts.join(' '));
      let live = await readDatabase(c, name);
      await alterDatabase(c, a, live);
      live = await readDatabase(c, name);
      if (!live)
        throw new PostgresError(`${ctx.address}: database ${name} vanished right after CREATE DATABASE`);
      return dbState(a, live);
    });
  },
  async read(state, ctx) {
    return withClient(connectionSettings(state.connection), ctx.address, async (c) => {
      const live = await readDatabase(c, str(state, 'name'));
      return live ? dbState(state, live) : undefined;
    });
  },
  async update(prior, config, ctx) {
    const a = normalise(withDefaults(config, dbAttrs), dbAttrs);
    const oldName = str(prior, 'name');
    const name = str(a, 'name');
    return withClient(connectionSettings(a.connection), ctx.address, async (c) => {
      if (oldName !== name) {
        await c.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [oldName],
        );
        await c.query(`ALTER DATABASE ${quoteIdent(oldName)} RENAME TO ${quoteIdent(name)}`);
      }
      await alterDatabase(c, a, await readDatabase(c, name));
      const live = await readDatabase(c, name);
      if (!live) throw new PostgresError(`${ctx.address}: database ${name} vanished during the update`);
      return dbState(a, live);
    });
  },
  async delete(state, ctx) {
    const name = str(state, 'name');
    await withClient(connectionSettings(state.connection), ctx.address, async (c) => {
      const live = await readDatabase(c, name);
      if (!live) return;
      if (live.is_template === true) await c.query(`ALTER DATABASE ${quoteIdent(name)} IS_TEMPLATE false`);
      // FORCE ends sessions still connected to it (PostgreSQL 13+), as Terraform's provider does by hand.
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    });
  },
  async import(id: string, ctx: ProviderContext, config?: Attrs) {
    const connection = config?.connection;
    return withClient(connectionSettings(connection), ctx.address, async (c) => {
      const live = await readDatabase(c, id);
      if (!live)
        throw new PostgresError(
          `${ctx.address}: no database named ${id} on the server`,
          'import takes the database name as the id',
        );
      const out: Attrs = { ...live, template: 'template0' };
      if (connection !== undefined) out.connection = connection;
      return out;
    });
  },
};

// ---------------------------------------------------------------------------------------------
// postgresql_grant

const OBJECT_PRIVILEGES: Record<string, string[]> = {
  database: ['CREATE', 'CONNECT', 'TEMPORARY'],
  schema: ['CREATE', 'USAGE'],
  table: ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'],
  sequence: ['USAGE', 'SELECT', 'UPDATE'],
  function: ['EXECUTE'],
};

// aclexplode's privilege_type spellings.
const ACL_NAMES: Record<string, string> = { TEMP: 'TEMPORARY' };

const grantAttrs: Record<string, AttrSchema> = {
  connection: connectionAttr,
  role: { type: 'string', required: true, forceNew: true, description: 'grantee (PUBLIC for everyone)' },
  database: { type: 'string', required: true, forceNew: true },
  object_type: {
    type: 'string',
    required: true,
    forceNew: true,
    description: 'database, schema, table, sequence or function',
  },
  schema: {
    type: 'string',
    optional: true,
    forceNew: true,
    description: 'required unless object_type is database',
  },
  objects: {
    type: 'list',
    optional: true,
    forceNew: true,
    default: [],
    description: 'objects in the schema; empty: all of them',
  },
  privileges: {
    type: 'list',
    required: true,
    description: 'exactly these privileges are held (others are revoked)',
  },
  with_grant_option: { type: 'bool', optional: true, default: false },
  id: { type: 'string', computed: true },
};

function grantId(a: Attrs): string {
  const parts = [str(a, 'role'), str(a, 'database'), str(a, 'object_type')];
  if (str(a, 'object_type') !== 'database') parts.push(str(a, 'schema'));
  return parts.join('|');
}

function grantConfig(config: Attrs): Attrs {
  const a = normalise(withDefaults(config, grantAttrs), grantAttrs);
  a.object_type = str(a, 'object_type').toLowerCase();
  a.privileges = strList(a.privileges)
    .map((p) => p.toUpperCase())
    .map((p) => ACL_NAMES[p] ?? p)
    .sort();
  a.id = grantId(a);
  return a;
}

function grantee(role: string): string {
  return role.toUpperCase() === 'PUBLIC' ? 'PUBLIC' : quoteIdent(role);
}

/** Fully qualified names of the objects a grant covers (empty for database/schema). */
async function grantObjects(c: pg.Client, a: Attrs): Promise<string[]> {
  const type = str(a, 'object_type');
  if (type === 'database' || type === 'schema') return [];
  const schema = str(a, 'schema');
  const objects = strList(a.objects);
  if (type === 'function') {
    const r = await c.query(
      `SELECT p.oid::regprocedure::text AS sig, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.prokind = 'f' ORDER BY 1`,
      [schema],
    );
    const rows = r.rows as { sig: string; proname: string }[];
    return rows.filter((x) => objects.length === 0 || objects.includes(x.proname)).map((x) => x.sig);
  }
  const kinds = type === 'table' ? ['r', 'v', 'm', 'p', 'f'] : ['S'];
  const r = await c.query(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = ANY($2) ORDER BY 1`,
    [schema, kinds],
  );
  const names = (r.rows as { relname: string }[]).map((x) => x.relname);
  return names
    .filter((x) => objects.length === 0 || objects.includes(x))
    .map((x) => `${quoteIdent(schema)}.${quoteIdent(x)}`);
}

function grantTarget(a: Attrs, objects: string[]): string {
  const type = str(a, 'object_type');
  if (type === 'database') return `DATABASE ${quoteIdent(str(a, 'database'))}`;
  if (type === 'schema') return `SCHEMA ${quoteIdent(str(a, 'schema'))}`;
  const kw = type === 'table' ? 'TABLE' : type === 'sequence' ? 'SEQUENCE' : 'FUNCTION';
  return `${kw} ${objects.join(', ')}`;
}

/** Privileges the role holds on every covered object (the intersection), sorted. */
async function readPrivileges(
  c: pg.Client,
  a: Attrs,
): Promise<{ privileges: string[]; grantable: boolean } | undefined> {
  const type = str(a, 'object_type');
  const role = str(a, 'role');
  const granteeOid = role.toUpperCase() === 'PUBLIC' ? '0' : `(SELECT oid FROM pg_roles WHERE rolname = $2)`;
  let sql: string;
  let params: unknown[];
  if (type === 'database') {
    sql = `SELECT d.datname AS obj, a.privilege_type, a.is_grantable
             FROM pg_database d, aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a
            WHERE d.datname = $1 AND a.grantee = ${granteeOid}`;
    params = [str(a, 'database')];
  } else if (type === 'schema') {
    sql = `SELECT n.nspname AS obj, a.privilege_type, a.is_grantable
             FROM pg_namespace n, aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) a
            WHERE n.nspname = $1 AND a.grantee = ${granteeOid}`;
    params = [str(a, 'schema')];
  } else if (type === 'function') {
    sql = `SELECT p.oid::regprocedure::text AS obj, a.privilege_type, a.is_grantable
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
                  aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) a
            WHERE n.nspname = $1 AND a.grantee = ${granteeOid}`;
    params = [str(a, 'schema')];
  } else {
    const kind = type === 'table' ? `c.relkind IN ('r','v','m','p','f')` : `c.relkind = 'S'`;
    sql = `SELECT '"' || replace(n.nspname, '"', '""') || '"."' || replace(c.relname, '"', '""') || '"' AS obj, a.privilege_type, a.is_grantable
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                  aclexplode(COALESCE(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
            WHERE n.nspname = $1 AND ${kind} AND a.grantee = ${granteeOid}`;
    params = [str(a, 'schema')];
  }
  if (role.toUpperCase() !== 'PUBLIC') {
    const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    if (exists.rowCount === 0) return undefined;
    params.push(role);
  }
  const objects =
    type === 'database'
      ? [str(a, 'database')]
      : type === 'schema'
        ? [str(a, 'schema')]
        : await grantObjects(c, a);
  if (type === 'database') {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [str(a, 'database')]);
    if (r.rowCount === 0) return undefined;
  } else if (type === 'schema') {
    const r = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [str(a, 'schema')]);
    if (r.rowCount === 0) return undefined;
  }
  const rows = (await c.query(sql, params)).rows as {
    obj: string;
    privilege_type: string;
    is_grantable: boolean;
  }[];
  const per = new Map<string, Map<string, boolean>>();
  for (const o of objects) per.set(o, new Map());
  for (const row of rows) per.get(row.obj)?.set(row.privilege_type, row.is_grantable);
  if (objects.length === 0) return { privileges: [], grantable: false };
  const sets = [...per.values()];
  const first = sets[0] ?? new Map<string, boolean>();
  const privileges = [...first.keys()].filter((p) => sets.every((s) => s.has(p))).sort();
  const grantable = privileges.length > 0 && privileges.every((p) => sets.every((s) => s.get(p) === true));
  return { privileges, grantable };
}

async function applyGrant(c: pg.Client, a: Attrs, revokeOnly = false): Promise<void> {
  const objects = await grantObjects(c, a);
  const type = str(a, 'object_type');
  if (type !== 'database' && type !== 'schema' && objects.length === 0) return;
  const target = grantTarget(a, objects);
  const who = grantee(str(a, 'role'));
  await c.query('BEGIN');
  try {
    await c.query(`REVOKE ALL PRIVILEGES ON ${target} FROM ${who}`);
    const privs = strList(a.privileges);
    if (!revokeOnly && privs.length > 0) {
      const opt = bool(a, 'with_grant_option', false) ? ' WITH GRANT OPTION' : '';
      await c.query(`GRANT ${privs.join(', ')} ON ${target} TO ${who}${opt}`);
    }
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

function grantSettings(a: Attrs): PgConnection {
  // Database-level grants work from any database; the others must connect to the one they name.
  return connectionSettings(
    a.connection,
    str(a, 'object_type') === 'database' ? undefined : str(a, 'database'),
  );
}

function grantState(a: Attrs, live: { privileges: string[]; grantable: boolean }): Attrs {
  return {
    ...a,
    privileges: live.privileges,
    with_grant_option:
      live.grantable || (bool(a, 'with_grant_option', false) && live.privileges.length === 0),
  };
}

/** Create and update alike: the role ends up with exactly the configured privileges. */
async function setGrant(config: Attrs, ctx: ProviderContext): Promise<Attrs> {
  const a = expandAll(grantConfig(config));
  return withClient(grantSettings(a), ctx.address, async (c) => {
    await applyGrant(c, a);
    const live = await readPrivileges(c, a);
    if (!live)
      throw new PostgresError(
        `${ctx.address}: role ${str(a, 'role')} or its ${str(a, 'object_type')} does not exist`,
      );
    return grantState(a, live);
  });
}

export const postgresqlGrant: ResourceType = {
  schema: {
    type: 'postgresql_grant',
    description: 'the exact set of privileges a role holds on a database, a schema, or objects in a schema',
    attributes: grantAttrs,
  },
  validate(config) {
    const problems = validConnection(config);
    const type = typeof config.object_type === 'string' ? config.object_type.toLowerCase() : undefined;
    if (type !== undefined && !(type in OBJECT_PRIVILEGES)) {
      problems.push({
        attribute: 'object_type',
        message: `object_type "${type}" is not one of ${Object.keys(OBJECT_PRIVILEGES).join(', ')}`,
      });
      return problems;
    }
    if (
      type !== undefined &&
      type !== 'database' &&
      (config.schema === undefined || config.schema === null || config.schema === '')
    ) {
      problems.push({ attribute: 'schema', message: `schema is required when object_type is ${type}` });
    }
    if (type === 'database' && config.schema !== undefined && config.schema !== null) {
      problems.push({ attribute: 'schema', message: 'schema must not be set when object_type is database' });
    }
    if (type !== undefined && Array.isArray(config.privileges)) {
      const allowed = [...(OBJECT_PRIVILEGES[type] ?? []), 'TEMP', 'ALL'];
      for (const p of config.privileges) {
        const up = String(p).toUpperCase();
        if (!allowed.includes(up)) {
          problems.push({
            attribute: 'privileges',
            message: `privilege "${String(p)}" does not apply to a ${type} (valid: ${(OBJECT_PRIVILEGES[type] ?? []).join(', ')})`,
          });
        }
      }
    }
    return problems;
  },
  plan(config) {
    return expandAll(grantConfig(config));
  },
  create: setGrant,
  async read(state, ctx) {
    const a = { ...state };
    return withClient(grantSettings(a), ctx.address, async (c) => {
      const live = await readPrivileges(c, a);
      // Nothing held any more: the grant is gone (Terraform removes it from state and plans a create).
      if (!live || live.privileges.length === 0)
        return strList(a.privileges).length === 0 && live ? a : undefined;
      return grantState(a, live);
    }).catch((err: unknown) => {
      // The database itself is gone: so is the grant.
      if (err instanceof PostgresError && /does not exist/.test(err.message)) return undefined;
      throw err;
    });
  },
  update: (_prior, config, ctx) => setGrant(config, ctx),
  async delete(state, ctx) {
    await withClient(grantSettings(state), ctx.address, async (c) => {
      const live = await readPrivileges(c, state);
      if (!live) return;
      await applyGrant(c, state, true);
    }).catch((err: unknown) => {
      if (err instanceof PostgresError && /does not exist/.test(err.message)) return;
      throw err;
    });
  },
  async import(id: string, ctx: ProviderContext, config?: Attrs) {
    const [role, database, objectType, schema] = id.split('|');
    if (!role || !database || !objectType || (objectType !== 'database' && !schema)) {
      throw new PostgresError(
        `${ctx.address}: grant import id "${id}" is not ROLE|DATABASE|database or ROLE|DATABASE|TYPE|SCHEMA`,
        'e.g. app|appdb|database or app|appdb|table|public',
      );
    }
    const a: Attrs = { role, database, object_type: objectType, objects: [], with_grant_option: false };
    if (schema) a.schema = schema;
    if (config?.connection !== undefined) a.connection = config.connection;
    a.id = grantId(a);
    return withClient(grantSettings(a), ctx.address, async (c) => {
      const live = await readPrivileges(c, a);
      if (!live || live.privileges.length === 0)
        throw new PostgresError(`${ctx.address}: ${role} holds no privilege on that ${objectType}`);
      return grantState(a, live);
    });
  },
};

/** `ALL` means every privilege of the object type (what the server reports back). */
function expandAll(a: Attrs): Attrs {
  const privs = strList(a.privileges);
  if (privs.includes('ALL') || privs.includes('ALL PRIVILEGES')) {
    a.privileges = [...(OBJECT_PRIVILEGES[str(a, 'object_type')] ?? [])].sort();
  }
  return a;
}

export const postgresqlProvider: Provider = {
  name: 'postgresql',
  resources: [postgresqlRole, postgresqlDatabase, postgresqlGrant],
};
