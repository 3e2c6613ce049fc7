/**
 * git against real repositories in a scratch dir; get_url and uri with the real curl
 * against an HTTP server on 127.0.0.1 started by the test.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checksumFromFile, getUrl } from '../../../../modules/net/get-url.js';
import { git } from '../../../../modules/net/git.js';
import { parseHeaders, uri } from '../../../../modules/net/uri.js';
import { runModule, scratch } from '../harness.js';

let s: ReturnType<typeof scratch>;
beforeEach(() => {
  s = scratch();
});
afterEach(() => s.cleanup());

function sh(cmd: string, cwd?: string): string {
  const r = spawnSync('sh', ['-c', cmd], {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@x',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@x',
    },
  });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout.trim();
}

function makeRepo(): { url: string; work: string; c1: string; c2: string } {
  const work = s.path('work');
  mkdirSync(work);
  sh('git init -q -b main . && echo one > f && git add f && git commit -q -m one && git tag v1', work);
  const c1 = sh('git rev-parse HEAD', work);
  sh('echo two > f && git commit -q -am two && git branch dev', work);
  const c2 = sh('git rev-parse HEAD', work);
  sh(`git clone -q --bare ${work} ${s.path('origin.git')}`);
  return { url: s.path('origin.git'), work, c1, c2 };
}

describe('git', () => {
  it('clones, then reports ok with before == after', async () => {
    const { url, c2 } = makeRepo();
    const dest = s.path('co');
    const r1 = await runModule(git, { repo: url, dest });
    expect(r1.result).toMatchObject({ changed: true, before: null, after: c2 });
    expect(readFileSync(`${dest}/f`, 'utf8')).toBe('two\n');
    const r2 = await runModule(git, { repo: url, dest });
    expect(r2.result).toMatchObject({ changed: false, before: c2, after: c2 });
  });

  it('switches to a tag and back to a branch, reporting before/after shas', async () => {
    const { url, c1, c2 } = makeRepo();
    const dest = s.path('co');
    await runModule(git, { repo: url, dest });
    const tag = await runModule(git, { repo: url, dest, version: 'v1' });
    expect(tag.result).toMatchObject({ changed: true, before: c2, after: c1 });
    expect(readFileSync(`${dest}/f`, 'utf8')).toBe('one\n');
    const br = await runModule(git, { repo: url, dest, version: 'dev' });
    expect(br.result).toMatchObject({ changed: true, before: c1, after: c2 });
    const sha = await runModule(git, { repo: url, dest, version: c1 });
    expect(sha.result).toMatchObject({ changed: true, after: c1 });
  });

  it('check mode reports the new sha without touching the checkout', async () => {
    const { url, c1, c2 } = makeRepo();
    const dest = s.path('co');
    await runModule(git, { repo: url, dest, version: 'v1' });
    const r = await runModule(git, { repo: url, dest, version: 'main' }, { check: true });
    expect(r.result).toMatchObject({ changed: true, before: c1, after: c2 });
    expect(readFileSync(`${dest}/f`, 'utf8')).toBe('one\n');
    const fresh = await runModule(git, { repo: url, dest: s.path('none') }, { check: true });
    expect(fresh.result).toMatchObject({ changed: true, before: null, after: c2 });
    expect(() => statSync(s.path('none'))).toThrow();
  });

  it('local modifications fail without force and are discarded with it', async () => {
    const { url, c1 } = makeRepo();
    const dest = s.path('co');
    await runModule(git, { repo: url, dest });
    writeFileSync(`${dest}/f`, 'local\n');
    const no = await runModule(git, { repo: url, dest, version: 'v1' });
    expect(no.result).toMatchObject({
      failed: true,
      msg: `Local modifications exist in the destination: ${dest} (force=no).`,
    });
    const yes = await runModule(git, { repo: url, dest, version: 'v1', force: true });
    expect(yes.result).toMatchObject({ changed: true, after: c1 });
    expect(readFileSync(`${dest}/f`, 'utf8')).toBe('one\n');
  });

  it('an unknown version fails naming it; a dest path with odd characters works', async () => {
    const { url, c2 } = makeRepo();
    const bad = await runModule(git, { repo: url, dest: s.path('co'), version: 'no-such-branch' });
    expect(bad.result.failed).toBe(true);
    expect(String(bad.result.msg)).toContain('no-such-branch');
    const odd = s.path('d ir\'$x`y`"-z');
    const r = await runModule(git, { repo: url, dest: odd, depth: 1 });
    expect(r.result).toMatchObject({ changed: true, after: c2 });
    expect(readFileSync(`${odd}/f`, 'utf8')).toBe('two\n');
  });
});

let server: Server;
let sums = '';
let base: string;
const seen: { method: string; url: string; headers: Record<string, unknown>; body: string }[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/file.txt') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('hello file\n');
      } else if (req.url === '/json') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Drover-Test': 'yes' });
        res.end(JSON.stringify({ ok: true, method: req.method, body }));
      } else if (req.url === '/redirect') {
        res.writeHead(302, { Location: '/json' });
        res.end();
      } else if (req.url === '/SHA256SUMS') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(sums);
      } else if (req.url === '/created') {
        res.writeHead(201, { 'Content-Type': 'text/plain' });
        res.end('made');
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('nope');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

describe('get_url', () => {
  const sha256 = createHash('sha256').update('hello file\n').digest('hex');

  it('downloads, applies mode, then is ok without downloading again', async () => {
    const dest = s.path('out.txt');
    const r1 = await runModule(getUrl, { url: `${base}/file.txt`, dest, mode: '0640' });
    expect(r1.result).toMatchObject({
      changed: true,
      dest,
      status_code: 200,
      msg: 'OK (11 bytes)',
      mode: '0640',
      size: 11,
    });
    expect(readFileSync(dest, 'utf8')).toBe('hello file\n');
    expect(statSync(dest).mode & 0o777).toBe(0o640);
    const before = seen.length;
    const r2 = await runModule(getUrl, { url: `${base}/file.txt`, dest, mode: '0640' });
    expect(r2.result.changed).toBe(false);
    expect(seen.length).toBe(before);
  });

  it('checksum: a matching dest is ok, a mismatch fails and leaves no file', async () => {
    const dest = s.path('c.txt');
    const ok = await runModule(getUrl, { url: `${base}/file.txt`, dest, checksum: `sha256:${sha256}` });
    expect(ok.result.changed).toBe(true);
    const again = await runModule(getUrl, { url: `${base}/file.txt`, dest, checksum: `sha256:${sha256}` });
    expect(again.result.changed).toBe(false);
    const bad = await runModule(getUrl, {
      url: `${base}/file.txt`,
      dest: s.path('bad.txt'),
      checksum: 'sha256:00ff',
    });
    expect(bad.result.failed).toBe(true);
    expect(String(bad.result.msg)).toContain('did not match 00ff');
    expect(() => statSync(s.path('bad.txt'))).toThrow();
  });

  it('checksum given as a URL: the checksum file is fetched and matched on the file name', async () => {
    sums = `0000  other.txt\n${sha256} *file.txt\n`;
    const dest = s.path('viaurl.txt');
    const r = await runModule(getUrl, {
      url: `${base}/file.txt`,
      dest,
      checksum: `sha256:${base}/SHA256SUMS`,
    });
    expect(r.result, String(r.result.msg)).toMatchObject({ changed: true, dest });
    expect(r.scripts).toHaveLength(2);
    sums = `${'0'.repeat(64)}  file.txt\n`;
    const bad = await runModule(getUrl, {
      url: `${base}/file.txt`,
      dest: s.path('bad2'),
      checksum: `sha256:${base}/SHA256SUMS`,
    });
    expect(String(bad.result.msg)).toContain('did not match');
    sums = 'abc  nothing-here\n';
    const none = await runModule(getUrl, {
      url: `${base}/file.txt`,
      dest: s.path('n'),
      checksum: `sha256:${base}/SHA256SUMS`,
    });
    expect(none.result.msg).toBe(`Unable to find a checksum for file 'file.txt' in '${base}/SHA256SUMS'`);
    expect(checksumFromFile('deadbeef\n', 'http://h/x.tgz')).toBe('deadbeef');
  });

  it('a directory dest takes the URL basename; 404 fails with the status', async () => {
    const r = await runModule(getUrl, { url: `${base}/file.txt`, dest: s.dir });
    expect(r.result).toMatchObject({ changed: true, dest: s.path('file.txt') });
    const nf = await runModule(getUrl, { url: `${base}/missing`, dest: s.path('m') });
    expect(nf.result).toMatchObject({ failed: true, status_code: 404 });
  });

  it('check mode does not download; force re-downloads and sees no change', async () => {
    const dest = s.path('f');
    const chk = await runModule(getUrl, { url: `${base}/file.txt`, dest }, { check: true });
    expect(chk.result.changed).toBe(true);
    expect(() => statSync(dest)).toThrow();
    await runModule(getUrl, { url: `${base}/file.txt`, dest });
    const forced = await runModule(getUrl, { url: `${base}/file.txt`, dest, force: true });
    expect(forced.result.changed).toBe(false);
  });

  it('sends headers byte-exact', async () => {
    const value = `a 'b' "c" $d \`e\` ü`;
    await runModule(getUrl, { url: `${base}/file.txt`, dest: s.path('h'), headers: { 'X-Odd': value } });
    expect(seen[seen.length - 1]!.headers['x-odd']).toBe(Buffer.from(value, 'utf8').toString('latin1'));
  });
});

describe('uri', () => {
  it('GET json: status, json, flattened headers', async () => {
    const r = await runModule(uri, { url: `${base}/json` });
    expect(r.result).toMatchObject({
      changed: false,
      status: 200,
      json: { ok: true, method: 'GET' },
      content_type: 'application/json',
      x_drover_test: 'yes',
      redirected: false,
    });
    expect(r.result.content).toBeUndefined();
  });

  it('POST json body byte-exact through stdin', async () => {
    const body = { s: `it's $HOME \`id\` "q"\nnew line ünï`, n: 1 };
    const r = await runModule(uri, {
      url: `${base}/json`,
      method: 'POST',
      body,
      body_format: 'json',
      return_content: true,
    });
    expect(r.result.status).toBe(200);
    const last = seen[seen.length - 1]!;
    expect(JSON.parse(last.body)).toEqual(body);
    expect(last.headers['content-type']).toBe('application/json');
    expect(typeof r.result.content).toBe('string');
  });

  it('form-urlencoded body, status_code list, redirects', async () => {
    const r = await runModule(uri, {
      url: `${base}/created`,
      method: 'PUT',
      body: { a: '1 2', b: '&' },
      body_format: 'form-urlencoded',
      status_code: [200, 201],
    });
    expect(r.result).toMatchObject({ status: 201 });
    expect(seen[seen.length - 1]!.body).toBe('a=1+2&b=%26');
    const red = await runModule(uri, { url: `${base}/redirect` });
    expect(red.result).toMatchObject({ status: 200, redirected: true, url: `${base}/json` });
  });

  it("an unexpected status fails with Ansible's message and the body", async () => {
    const r = await runModule(uri, { url: `${base}/nothing` });
    expect(r.result).toMatchObject({
      failed: true,
      status: 404,
      msg: 'Status code was 404 and not [200]: HTTP Error 404: Not Found',
      content: 'nope',
    });
  });

  it('connection refused is status -1; creates skips; check mode skips', async () => {
    const r = await runModule(uri, { url: 'http://127.0.0.1:1/' });
    expect(r.result).toMatchObject({ failed: true, status: -1 });
    writeFileSync(s.path('exists'), '');
    const c = await runModule(uri, { url: `${base}/json`, creates: s.path('exists') });
    expect(c.result).toEqual({ changed: false, stdout: `skipped, since '${s.path('exists')}' exists` });
    const chk = await runModule(uri, { url: `${base}/json` }, { check: true });
    expect(chk.result.skipped).toBe(true);
  });

  it('parses the last header block after redirects', () => {
    expect(
      parseHeaders(
        'HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n',
      ),
    ).toEqual({
      content_length: '3',
      set_cookie: 'a=1, b=2',
    });
  });
});
