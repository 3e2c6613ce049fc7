/**
 * Asking for a password without echo. Like Python's getpass (what ansible-vault uses): the
 * controlling terminal (/dev/tty) when there is one, so stdin stays free for data (e.g.
 * `drover vault encrypt < file`); otherwise one line of stdin, with a warning.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import tty from 'node:tty';
import { VaultError } from './error.js';

export type PromptFn = (question: string) => Promise<string>;

export const promptHidden: PromptFn = async (question) => {
  let rfd: number;
  let wfd: number;
  try {
    rfd = openSync('/dev/tty', 'r');
    wfd = openSync('/dev/tty', 'w');
  } catch {
    process.stderr.write('Warning: Password input may be echoed.\n');
    process.stderr.write(question);
    return readStdinLine();
  }
  const input = new tty.ReadStream(rfd);
  // Echo off before the question shows, so an answer typed at once is not echoed.
  input.setRawMode(true);
  input.setEncoding('utf8');
  writeSync(wfd, question);
  try {
    return await new Promise<string>((resolve, reject) => {
      let buf = '';
      input.on('data', (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') return resolve(buf);
          if (ch === '\u0003')
            return reject(new VaultError('Interrupted while prompting for a vault password'));
          if (ch === '\u0004') {
            if (buf === '') return reject(new VaultError('EOFError (ctrl-d) on the vault password prompt'));
            return resolve(buf);
          }
          if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
          else if (ch === '\u0015')
            buf = ''; // ctrl-u: kill the line, as a cooked tty would
          else buf += ch;
        }
      });
      input.on('error', reject);
    });
  } finally {
    input.setRawMode(false);
    input.destroy();
    writeSync(wfd, '\n');
    closeSync(wfd);
  }
};

/** Reads up to the first newline of stdin (the rest of that chunk is dropped, as getpass does). */
export function readStdinLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    let buf = '';
    const onData = (d: Buffer | string): void => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(buf.slice(0, nl).replace(/\r$/, ''));
    };
    const onEnd = (): void => {
      if (buf === '') {
        cleanup();
        reject(new VaultError('EOFError (ctrl-d) on the vault password prompt: stdin is empty'));
      } else finish(buf);
    };
    const cleanup = (): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', reject);
      stdin.pause();
    };
    const finish = (s: string): void => {
      cleanup();
      resolve(s);
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', reject);
    stdin.resume();
  });
}

/** A prompt whose answer is echoed (variable names), on the terminal when there is one. */
export const promptVisible: PromptFn = async (question) => {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    process.stderr.write(question);
    return readStdinLine();
  }
  const { createInterface } = await import('node:readline/promises');
  const input = new tty.ReadStream(fd);
  const output = new tty.WriteStream(fd);
  const rl = createInterface({ input, output, terminal: true });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
    input.destroy();
  }
};
