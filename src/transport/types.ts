/**
 * The only thing the runner knows about a host. ssh, local, chroot/namespace and the
 * in-memory fake all implement it, so the engine never knows where it runs.
 */

export type BecomeMethod = 'sudo' | 'su';

export interface Become {
  method: BecomeMethod;
  user: string; // default 'root'
  password?: string; // never logged or echoed
  flags?: string; // ansible_become_flags
  exe?: string; // ansible_become_exe
}

export interface RunOptions {
  /** Bytes written to the remote script's stdin, then stdin is closed. */
  stdin?: Uint8Array | string;
  become?: Become;
  env?: Record<string, string>;
  /** Kill the command and fail the run after this long. */
  timeoutMs?: number;
}

/** A finished remote command. A non-zero rc is a value, not an exception. */
export interface RunResult {
  rc: number;
  stdout: string;
  stderr: string;
  /** Set when the command was killed by a signal (rc is then 128+n or -1). */
  signal?: string;
  /** Set when escalation itself failed (wrong or missing become password); rc is then non-zero. */
  becomeError?: string;
  /** Set when the command was killed because it ran longer than timeoutMs (rc is then 124). */
  timedOut?: boolean;
}

export interface Connection {
  /** Inventory name of the host this connection reaches. */
  readonly host: string;
  /** Open the connection (idempotent). Rejects with UnreachableError. */
  connect(): Promise<void>;
  /** Run a POSIX sh script on the target. Rejects only when the host is unreachable. */
  run(script: string, opts?: RunOptions): Promise<RunResult>;
  /** Copy a controller file or buffer to the target, atomically (temp + rename). */
  put(local: string | Uint8Array, remote: string, opts?: { mode?: number; become?: Become }): Promise<void>;
  /** Copy a target file to the controller. */
  get(remote: string, local: string, opts?: { become?: Become }): Promise<void>;
  close(): Promise<void>;
}

/** The host cannot be reached (connect failed, auth failed, connection dropped). */
export class UnreachableError extends Error {
  readonly host: string;
  readonly hint: string | undefined;
  constructor(host: string, message: string, hint?: string) {
    super(message);
    this.name = 'UnreachableError';
    this.host = host;
    this.hint = hint;
  }
}

export type HostKeyChecking = 'strict' | 'accept-new' | 'off';

/** Everything needed to reach one host, resolved from inventory vars, CLI flags and ~/.ssh/config. */
export interface ConnectionSpec {
  host: string; // inventory_hostname
  connection: 'ssh' | 'local' | string;
  address: string; // ansible_host
  port: number;
  user: string | undefined;
  password?: string;
  privateKeyFiles: string[];
  passphrase?: string;
  hostKeyChecking: HostKeyChecking;
  knownHostsFiles?: string[];
  connectTimeoutMs: number;
  /** Jump hosts, outermost first, as `[user@]host[:port]`. */
  proxyJump?: string[];
  /** Max exec channels open at once on this connection. */
  maxChannels?: number;
  /** Extra connect attempts after a refused/timed-out/cut connect (ansible_ssh_retries). */
  connectRetries?: number;
  /** Write hashed names when accept-new adds a host key (ssh's HashKnownHosts). */
  hashKnownHosts?: boolean;
  /** SSH keepalive interval; 0 disables. Default 15 s. */
  keepaliveIntervalMs?: number;
  /** Where each value came from (ansible var, CLI, ssh config), for messages. */
  origin?: Record<string, string>;
  /** Default become for this host (ansible_become*). */
  become?: Become & { enabled: boolean };
}
