/**
 * Where state lives. The local backend (a JSON file beside the config) and the PostgreSQL
 * backend implement this; the engine only talks to this interface.
 */

export interface LockInfo {
  /** Random id; `drover infra force-unlock ID` needs it. */
  id: string;
  /** e.g. "apply", "destroy", "plan", "import", "state mv". */
  operation: string;
  /** user@hostname. */
  who: string;
  /** ISO-8601. */
  created: string;
  version: string;
  /** Backend-specific location (state path or pg workspace). */
  path: string;
}

/** Raised when the state is locked by someone else; carries the holder for the message. */
export class StateLockedError extends Error {
  readonly holder: LockInfo | undefined;
  constructor(message: string, holder: LockInfo | undefined) {
    super(message);
    this.name = 'StateLockedError';
    this.holder = holder;
  }
}

export interface Backend {
  /** Human description for messages, e.g. `local state file infra/drover.tfstate.json` or `pg backend "default"`. */
  readonly description: string;
  /** Create whatever storage is needed (pg: schema and table). Idempotent; `infra init` calls it. */
  init(): Promise<void>;
  /** The raw current state document (JSON text), or undefined if none exists yet. */
  read(): Promise<string | undefined>;
  /** Replace the state durably and atomically, keeping the previous version as a backup. */
  write(json: string): Promise<void>;
  /**
   * Take the lock, waiting up to timeoutMs (0 = fail at once) and throwing StateLockedError
   * naming the holder. Returns the lock id to pass to unlock.
   */
  lock(info: Omit<LockInfo, 'id' | 'path'>, timeoutMs: number): Promise<string>;
  unlock(id: string): Promise<void>;
  /** Current holder, if any. */
  lockInfo(): Promise<LockInfo | undefined>;
  /** Remove a lock left by a crashed process (`force-unlock ID`); throws if ID does not match. */
  forceUnlock(id: string): Promise<void>;
  close(): Promise<void>;
}
