import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MachineError } from '../../src/machine/host.js';
import { findFreePortRange, portAccepting, portFree } from '../../src/machine/ports.js';
import { canonicalPath, isRunning, signal, waitFor } from '../../src/machine/processes.js';

/**
 * A private PostgreSQL 15 cluster for tests, the demo and the infra example: `initdb` +
 * `pg_ctl` as user `postgres` (Debian's `postgresql` package), listening on 127.0.0.1:PORT
 * and a socket dir inside `dir` only. A cluster left by a crashed run in the same dir is
 * stopped first; a process exit without `stop()` still ends the postmaster.
 */

const run = promisify(execFile);

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const PG_USER = 'postgres';

export interface PgCluster {
  dir: string;
  dataDir: string;
  socketDir: string;
  host: '127.0.0.1';
  port: number;
  /** Superuser (password auth over TCP, trust over the private socket). */
  user: string;
  password: string;
  /** `postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres` */
  connStr: string;
  /** Runs SQL as the superuser through psql over the private socket; returns stdout (unaligned, tuples only). */
  psql(sql: string, dbname?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface StartPgOptions {
  /** Holds `data/`, `sock/`, `postgres.log` (under /tmp instead when user postgres cannot reach it) and `cluster.json`; reused (whatever ran there is stopped and wiped). */
  dir: string;
  /** Fixed port; otherwise the first free one in [portFrom, portTo]. */
  port?: number;
  portFrom?: number;
  portTo?: number;
}

interface ClusterRecord {
  version: 1;
  port: number;
  password: string;
  /** Where data/, sock/ and postgres.log are: `dir`, or a private dir under /tmp when user postgres cannot reach `dir`. */
  base?: string;
}

async function readRecord(dir: string): Promise<ClusterRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterRecord;
  } catch {
    return undefined;
  }
}

/** Whether user postgres can reach `dir` (a checkout under /root is mode 700 on the way). */
async function postgresCanReach(dir: string): Promise<boolean> {
  try {
    await run('/usr/sbin/runuser', ['-u', PG_USER, '--', 'test', '-x', dir], { cwd: '/' });
    return true;
  } catch {
    return false;
  }
}

function asPostgres(cmd: string, args: string[]) {
  return run('/usr/sbin/runuser', ['-u', PG_USER, '--', join(PG_BIN, cmd), ...args], {
    cwd: '/',
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' },
  });
}

/** The postmaster's pid from `postmaster.pid`, if that process still runs with this data dir. */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('postgres') && cmd.includes(dataDir) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Stops the cluster in `dir` if one runs (crash-safe: by its postmaster.pid). */
export async function stopPgCluster(dirArg: string): Promise<void> {
  const dir = await canonicalPath(dirArg);
  const record = await readRecord(dir);
  const dataDir = join(record?.base ?? dir, 'data');
  const pid = postmasterPid(dataDir);
  if (pid === undefined) return;
  const port = record?.port;
  // SIGINT = fast shutdown (sessions ended, checkpoint); SIGQUIT = immediate if that stalls.
  signal(pid, 'SIGINT');
  if (!(await waitFor(async () => !(await isRunning(pid)), 5000))) {
    signal(pid, 'SIGQUIT');
    if (!(await waitFor(async () => !(await isRunning(pid)), 5000))) signal(pid, 'SIGKILL');
  }
  if (!(await waitFor(async () => !(await isRunning(pid)), 5000))) {
    throw new MachineError(`postgres (pid ${pid}) in ${dataDir} does not stop`);
  }
  if (port !== undefined && !(await waitFor(() => portFree(port), 5000))) {
    throw new MachineError(`port 127.0.0.1:${port} still in use after postgres in ${dataDir} stopped`);
  }
}

export async function startPgCluster(opts: StartPgOptions): Promise<PgCluster> {
  await mkdir(opts.dir, { recursive: true });
  const dir = await canonicalPath(opts.dir);
  await stopPgCluster(dir);
  await chmod(dir, 0o755);
  let base = dir;
  if (!(await postgresCanReach(dir))) {
    base = join(tmpdir(), `drover-pg-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`);
    await rm(base, { recursive: true, force: true });
    await mkdir(base, { mode: 0o755 });
  }
  const dataDir = join(base, 'data');
  const socketDir = join(base, 'sock');
  const logFile = join(base, 'postgres.log');
  for (const p of [dataDir, socketDir, logFile, join(dir, 'cluster.json')])
    await rm(p, { recursive: true, force: true });
  const pgUid = Number((await run('id', ['-u', PG_USER], { encoding: 'utf8' })).stdout.trim());
  const pgGid = Number((await run('id', ['-g', PG_USER], { encoding: 'utf8' })).stdout.trim());
  for (const d of [dataDir, socketDir]) {
    await mkdir(d, { mode: 0o700 });
    await chown(d, pgUid, pgGid);
  }
  await writeFile(logFile, '');
  await chown(logFile, pgUid, pgGid);

  let port = opts.port;
  if (port === undefined) port = await findFreePortRange(1, opts.portFrom ?? 25690, opts.portTo ?? 25699);
  else if (!(await portFree(port))) {
    throw new MachineError(
      `port 127.0.0.1:${port} is in use`,
      'pick another port for the PostgreSQL cluster',
    );
  }
  const password = randomBytes(12).toString('hex');
  const pwFile = join(base, 'pwfile');
  await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  await chown(pwFile, pgUid, pgGid);
  try {
    await asPostgres('initdb', [
      '-D',
      dataDir,
      '-U',
      PG_USER,
      '--pwfile',
      pwFile,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message?: string };
    throw new MachineError(`initdb in ${dataDir} failed: ${e.stderr || e.stdout || e.message}`);
  } finally {
    await rm(pwFile, { force: true });
  }
  const record: ClusterRecord = { version: 1, port, password, base };
  await writeFile(join(dir, 'cluster.json'), `${JSON.stringify(record)}\n`, { mode: 0o600 });
  const serverOpts = [
    `-p ${port}`,
    `-k ${socketDir}`,
    '-c listen_addresses=127.0.0.1',
    // Test data only: durability is not what these clusters are for, speed is.
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=50',
    '-c shared_buffers=16MB',
  ].join(' ');
  try {
    await asPostgres('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', serverOpts, '-w', '-t', '30', 'start']);
  } catch (err) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    await stopPgCluster(dir).catch(() => undefined);
    throw new MachineError(
      `postgres did not start on port ${port}: ${(err as { stderr?: string }).stderr ?? String(err)}\n${log.slice(-2000)}`,
      `see ${logFile}`,
    );
  }
  if (!(await waitFor(() => portAccepting(port), 10_000))) {
    await stopPgCluster(dir).catch(() => undefined);
    throw new MachineError(
      `postgres started but 127.0.0.1:${port} does not accept connections`,
      `see ${logFile}`,
    );
  }
  // If the process exits without stop(), the postmaster still goes (synchronously: an exit hook cannot wait).
  const onExit = (): void => {
    const pid = postmasterPid(dataDir);
    if (pid !== undefined) signal(pid, 'SIGQUIT');
  };
  process.once('exit', onExit);

  return {
    dir,
    dataDir,
    socketDir,
    host: '127.0.0.1',
    port,
    user: PG_USER,
    password,
    connStr: `postgres://${PG_USER}:${password}@127.0.0.1:${port}/postgres`,
    psql: (sql, dbname = 'postgres') => psqlRun(socketDir, port, dbname, sql),
    stop: async () => {
      process.off('exit', onExit);
      await stopPgCluster(dir);
      if (base !== dir) await rm(base, { recursive: true, force: true });
    },
  };
}

async function psqlRun(socketDir: string, port: number, dbname: string, sql: string): Promise<string> {
  const r = await run(
    '/usr/sbin/runuser',
    [
      '-u',
      PG_USER,
      '--',
      join(PG_BIN, 'psql'),
      '-X',
      '-q',
      '-A',
      '-t',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      socketDir,
      '-p',
      String(port),
      '-d',
      dbname,
      '-c',
      sql,
    ],
    { cwd: '/', encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } },
  );
  return r.stdout.trim();
}
