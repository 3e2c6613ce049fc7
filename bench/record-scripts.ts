/**
 * Preloaded into a drover run (`node --import dist/bench/record-scripts.js dist/cli/drover.js ...`)
 * with DROVER_BENCH_RECORD=FILE: records every command drover's ssh2 client runs, with the
 * bytes written to its stdin, per target port, and writes them to FILE on exit. The floor
 * then replays exactly these commands, so "the same remote scripts" is literally true.
 *
 * Session-shell channels (one long-lived remote sh reading framed scripts) are unpacked
 * into one step per framed script, so the replay does the same remote work.
 */
import { writeFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { quote } from '../src/shell/quote.js';

interface Recorded {
  port: number;
  command: string;
  /** Order of the exec call among all recorded events. */
  seq: number;
  stdin: Buffer[];
  /** Order of each stdin write (a session frame is one write: frames keep their own order). */
  writeSeq: number[];
}

let nextSeq = 0;

const file = process.env.DROVER_BENCH_RECORD;
const records: Recorded[] = [];

type ExecCallback = (err: Error | undefined, channel: ssh2.ClientChannel) => void;
type ExecFn = (this: ssh2.Client, command: string, ...rest: unknown[]) => ssh2.Client;

// drover hands ssh2 its own socket, so config.port is unset: the socket knows the port.
interface ClientInternals {
  _sock?: { remotePort?: number };
  config?: { port?: number };
}

/** Frames of the session driver: `BOUNDARY SCRIPT_LEN STDIN_LEN\n` + script + stdin. */
export function unpackFrames(bytes: Buffer): { command: string; stdin: Buffer }[] {
  const out: { command: string; stdin: Buffer }[] = [];
  let at = 0;
  while (at < bytes.length) {
    const nl = bytes.indexOf(10, at);
    if (nl < 0) break;
    const [, sl, il] = bytes.subarray(at, nl).toString('latin1').split(' ');
    const s = nl + 1;
    const i = s + Number(sl);
    out.push({ command: bytes.subarray(s, i).toString('utf8'), stdin: bytes.subarray(i, i + Number(il)) });
    at = i + Number(il);
  }
  return out;
}

if (file) {
  const proto = ssh2.Client.prototype as unknown as { exec: ExecFn };
  const original = proto.exec;
  proto.exec = function (this: ssh2.Client, command: string, ...rest: unknown[]): ssh2.Client {
    const rec: Recorded = {
      port:
        (this as unknown as ClientInternals)._sock?.remotePort ??
        (this as unknown as ClientInternals).config?.port ??
        0,
      command,
      seq: nextSeq++,
      stdin: [],
      writeSeq: [],
    };
    records.push(rec);
    const cbIndex = rest.findIndex((x) => typeof x === 'function');
    const cb = rest[cbIndex] as ExecCallback;
    rest[cbIndex] = (err: Error | undefined, ch: ssh2.ClientChannel): void => {
      if (!err) {
        const write = ch.write.bind(ch);
        const end = ch.end.bind(ch);
        const keep = (chunk: unknown): void => {
          if (typeof chunk === 'string') rec.stdin.push(Buffer.from(chunk));
          else if (chunk instanceof Uint8Array) rec.stdin.push(Buffer.from(chunk));
          else return;
          rec.writeSeq.push(nextSeq++);
        };
        ch.write = ((chunk: unknown, ...a: unknown[]) => {
          keep(chunk);
          return (write as (...x: unknown[]) => boolean)(chunk, ...a);
        }) as typeof ch.write;
        ch.end = ((chunk?: unknown, ...a: unknown[]) => {
          if (chunk !== undefined && typeof chunk !== 'function') keep(chunk);
          return (end as (...x: unknown[]) => ssh2.ClientChannel)(chunk, ...a);
        }) as typeof ch.end;
      }
      cb(err, ch);
    };
    return original.call(this, command, ...rest);
  };
  process.on('exit', () => {
    type Step = { command: string; stdin?: string; seq: number };
    const byPort: Record<string, Step[]> = {};
    for (const r of records) {
      const steps = byPort[String(r.port)] ?? [];
      byPort[String(r.port)] = steps;
      // The session driver's command reads frames; replay the framed scripts themselves, run
      // by `sh` as the driver runs them (not by the login shell an exec channel would use),
      // in the order they were sent (the first run of a host goes on an exec channel while
      // the session opens).
      if (r.command.includes('drover-session.XXXXXX')) {
        r.stdin.forEach((w, i) => {
          for (const f of unpackFrames(w)) {
            const command = `exec sh -c ${quote(f.command)}`;
            const seq = r.writeSeq[i] ?? r.seq;
            steps.push(
              f.stdin.length ? { command, stdin: f.stdin.toString('base64'), seq } : { command, seq },
            );
          }
        });
      } else {
        const stdin = Buffer.concat(r.stdin);
        const base = { command: r.command, seq: r.seq };
        steps.push(stdin.length ? { ...base, stdin: stdin.toString('base64') } : base);
      }
    }
    const out: Record<string, { command: string; stdin?: string }[]> = {};
    for (const [port, steps] of Object.entries(byPort)) {
      out[port] = steps.sort((a, b) => a.seq - b.seq).map(({ seq: _, ...step }) => step);
    }
    writeFileSync(file, JSON.stringify(out));
  });
}
