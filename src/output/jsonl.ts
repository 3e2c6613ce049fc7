/**
 * JSON lines through pino: one event per line, `{"v":1,"type":...}`, versioned by
 * EVENT_SCHEMA_VERSION (docs/events.md). Events arrive already masked by the runner; the
 * redactor runs again here so nothing the formatter adds can leak either.
 */
import { createWriteStream } from 'node:fs';
import pino from 'pino';
import { EVENT_SCHEMA_VERSION, type EventSink, type RunEvent } from '../events/types.js';
import type { Redactor } from './redact.js';

export class JsonLinesOutput implements EventSink {
  private readonly logger: pino.Logger;
  private readonly stream: NodeJS.WritableStream;

  constructor(
    target: string | NodeJS.WritableStream,
    private readonly redactor?: Redactor,
  ) {
    this.stream = typeof target === 'string' ? createWriteStream(target) : target;
    this.logger = pino(
      {
        base: null,
        timestamp: false,
        messageKey: 'message',
        // The level slot carries the schema version instead (an empty one makes pino emit `{,`).
        formatters: { level: () => ({ v: EVENT_SCHEMA_VERSION }) },
      },
      this.stream as pino.DestinationStream,
    );
  }

  emit(e: RunEvent): void {
    const body = this.redactor ? (this.redactor.redactValue(e) as RunEvent) : e;
    this.logger.info(body);
  }

  async close(): Promise<void> {
    if (this.stream === process.stdout || this.stream === process.stderr) return;
    await new Promise<void>((resolve) => this.stream.end(resolve));
  }
}
