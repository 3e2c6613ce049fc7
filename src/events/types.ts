/**
 * Everything the runner reports. Formatters (human, JSON lines, JUnit, HTML, GitHub
 * annotations) are exhaustive maps over `type`, so a new event cannot be forgotten.
 * Values in events are already masked (no_log, vault) by the runner.
 */

import type { TaskResult } from '../../modules/types.js';
import type { SourcePos } from '../errors.js';

/** Bump when the shape of an event changes incompatibly (docs/events.md). */
export const EVENT_SCHEMA_VERSION = 1;

export type HostStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable' | 'ignored' | 'rescued';

export interface HostStats {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

export interface PlayRef {
  id: string;
  name: string;
  pos?: SourcePos;
}

export interface TaskRef {
  id: string;
  name: string;
  action: string;
  pos?: SourcePos;
  role?: string;
  handler?: boolean;
}

export type RunEvent =
  | { type: 'run.start'; command: string; check: boolean; diff: boolean; time: number }
  | { type: 'play.start'; play: PlayRef; hosts: string[]; time: number }
  | { type: 'task.start'; task: TaskRef; hosts: string[]; time: number }
  | {
      type: 'host.result';
      host: string;
      task: TaskRef;
      status: HostStatus;
      result: TaskResult;
      /** Loop item label when this is one item of a loop. */
      item?: unknown;
      itemLabel?: string;
      delegatedTo?: string;
      /** The task looped: its items were reported as host.item events already. */
      loop?: boolean;
      durationMs: number;
      time: number;
    }
  | {
      type: 'host.item';
      host: string;
      task: TaskRef;
      status: HostStatus;
      result: TaskResult;
      itemLabel: string;
      delegatedTo?: string;
      time: number;
    }
  | {
      type: 'host.retry';
      host: string;
      task: TaskRef;
      attempt: number;
      retries: number;
      result: TaskResult;
      time: number;
    }
  | { type: 'handler.notify'; host: string; handler: string; time: number }
  | { type: 'play.end'; play: PlayRef; time: number }
  | { type: 'play.no_hosts'; play: PlayRef; reason: 'no hosts matched' | 'no more hosts left'; time: number }
  | { type: 'include'; hosts: string[]; task: TaskRef; file: string; itemLabel?: string; time: number }
  | { type: 'warning'; message: string; pos?: SourcePos; time: number }
  | { type: 'deprecation'; message: string; pos?: SourcePos; time: number }
  | { type: 'interrupted'; time: number }
  | { type: 'recap'; stats: Record<string, HostStats>; durationMs: number; time: number };

export type RunEventType = RunEvent['type'];

export type EventOf<T extends RunEventType> = Extract<RunEvent, { type: T }>;

/** A formatter handles every event type; `satisfies EventHandlers` makes the map exhaustive. */
export type EventHandlers = { [T in RunEventType]: (e: EventOf<T>) => void };

export interface EventSink {
  emit(e: RunEvent): void;
  /** Flush and close outputs (files, streams). */
  close(): Promise<void>;
}

export function emptyStats(): HostStats {
  return { ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 };
}
