import { createConnection, createServer } from 'node:net';

/** True when nothing listens on 127.0.0.1:port (we could bind it ourselves). */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** True when a TCP connect to host:port succeeds right now. */
export function portAccepting(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * The first port p in [from, to] with p..p+count-1 all free right now. Other engineers'
 * fleets share this machine's loopback, so tests that may pick their ports search for them.
 */
export async function findFreePortRange(count: number, from: number, to = 65535): Promise<number> {
  let base = from;
  while (base + count - 1 <= to) {
    let ok = true;
    for (let p = base; p < base + count; p++) {
      if (!(await portFree(p))) {
        base = p + 1;
        ok = false;
        break;
      }
    }
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports on 127.0.0.1 between ${from} and ${to}`);
}
