import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEvent, TaskRef } from '../../../src/events/types.js';
import { HtmlOutput, htmlEscape, STATUS_COLORS } from '../../../src/output/html.js';
import { Redactor } from '../../../src/output/redact.js';
import { decodePng, hexRgb, near, pixel } from './png.js';

const SECRET = 'pl4nted-S3cret-html';
const task = (name: string, line: number, action = 'command'): TaskRef => ({
  id: `t${line}`,
  name,
  action,
  pos: { file: '/repo/site.yml', line, col: 7 },
});

/** Four hosts, two plays: ok, changed (with a diff and loop items), failed, skipped, unreachable. */
function events(): RunEvent[] {
  const t1 = task('install <pkg> & "run"', 5);
  const t2 = task('render config', 9, 'template');
  const t3 = task('files', 14, 'copy');
  const at = (ms: number) => 1_000_000 + ms;
  return [
    { type: 'run.start', command: 'playbook', check: true, diff: true, time: at(0) },
    {
      type: 'play.start',
      play: { id: 'p1', name: 'web', pos: { file: '/repo/site.yml', line: 1, col: 3 } },
      hosts: ['web1', 'web2', 'web3', 'db1'],
      time: at(0),
    },
    { type: 'task.start', task: t1, hosts: ['web1', 'web2', 'web3', 'db1'], time: at(0) },
    {
      type: 'host.result',
      host: 'web1',
      task: t1,
      status: 'ok',
      result: {},
      durationMs: 1000,
      time: at(1000),
    },
    {
      type: 'host.result',
      host: 'web2',
      task: t1,
      status: 'failed',
      result: {
        failed: true,
        rc: 3,
        msg: `login failed for ${SECRET}`,
        stdout: `token=${SECRET}`,
        stderr: 'boom',
      },
      durationMs: 3000,
      time: at(3000),
    },
    {
      type: 'host.result',
      host: 'web3',
      task: t1,
      status: 'skipped',
      result: { skipped: true, skip_reason: 'Conditional result was False' },
      durationMs: 0,
      time: at(10),
    },
    {
      type: 'host.result',
      host: 'db1',
      task: t1,
      status: 'unreachable',
      result: { unreachable: true, msg: 'ssh: connect to host db1 port 22: Connection refused' },
      durationMs: 500,
      time: at(500),
    },
    // The runner templates names in task.start; host.result carries the task as written.
    { type: 'task.start', task: { ...t2, name: 'render config for web1' }, hosts: ['web1'], time: at(3000) },
    {
      type: 'host.result',
      host: 'web1',
      task: t2,
      status: 'changed',
      result: {
        changed: true,
        diff: {
          before: 'port=80\n',
          after: `port=8080\npassword=${SECRET}\n`,
          after_header: '/etc/app.conf',
        },
      },
      durationMs: 4000,
      time: at(7000),
    },
    { type: 'warning', message: `deprecated thing near ${SECRET}`, pos: t2.pos, time: at(7000) },
    { type: 'play.end', play: { id: 'p1', name: 'web' }, time: at(7000) },
    { type: 'play.start', play: { id: 'p2', name: 'files' }, hosts: ['web1'], time: at(7000) },
    { type: 'task.start', task: t3, hosts: ['web1'], time: at(7000) },
    ...(['a', 'b'] as const).map(
      (label): RunEvent => ({
        type: 'host.item',
        host: 'web1',
        task: t3,
        status: 'changed',
        result: { changed: true },
        itemLabel: label,
        time: at(8000),
      }),
    ),
    {
      type: 'host.result',
      host: 'web1',
      task: t3,
      status: 'changed',
      result: { changed: true },
      loop: true,
      durationMs: 3000,
      time: at(10000),
    },
    { type: 'play.end', play: { id: 'p2', name: 'files' }, time: at(10000) },
    {
      type: 'recap',
      stats: {
        web1: { ok: 3, changed: 2, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 },
        web2: { ok: 0, changed: 0, unreachable: 0, failed: 1, skipped: 0, rescued: 0, ignored: 0 },
        web3: { ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 1, rescued: 0, ignored: 0 },
        db1: { ok: 0, changed: 0, unreachable: 1, failed: 0, skipped: 0, rescued: 0, ignored: 0 },
      },
      durationMs: 10000,
      time: at(10000),
    },
  ];
}

async function render(): Promise<string> {
  const redactor = new Redactor();
  redactor.add(SECRET);
  let out = '';
  const h = new HtmlOutput({ redactor, write: (s) => (out += s), now: () => 0 });
  for (const e of events()) h.emit(e);
  await h.close();
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'drover-html-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('HtmlOutput', () => {
  it('is one self-contained page: no external scripts, styles, fonts or images', async () => {
    const html = await render();
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<link\b|\bsrc=|@import|url\(|https?:\/\//i);
    expect(html).toContain('<style>');
    expect(html).toContain('<script>');
  });

  it('holds the recap, a bar per result, the failures with output, the diffs and warnings', async () => {
    const html = await render();
    for (const id of ['recap', 'timeline', 'failures', 'slowest', 'diffs', 'warnings', 'results'])
      expect(html).toContain(`<section id="${id}">`);
    expect(html.match(/<a class="bar /g)).toHaveLength(6);
    // Durations scale the bars: 3000 ms of a 10000 ms run is 30% wide, starting at 0.
    expect(html).toContain('class="bar st-failed" href="#r1" style="left:0.000%;width:30.000%"');
    expect(html).toContain('class="bar st-changed" href="#r4" style="left:30.000%;width:40.000%"');
    expect(html).toContain('install &lt;pkg&gt; &amp; &quot;run&quot;');
    expect(html).toContain('<pre class="msg">login failed for ********</pre>');
    expect(html).toContain('token=********');
    expect(html).toContain('<span class="da">+port=8080</span>');
    expect(html).toContain('<span class="da">+password=********</span>');
    expect(html).toContain('ssh: connect to host db1 port 22: Connection refused');
    expect(html).toContain('<span class="item st-changed">a</span>');
    expect(html).toContain('unreachable hosts</span>');
    expect(html).toContain('(check mode, diff)');
    expect(html).toContain('render config for web1 [web1]: changed, 4.00 s');
    // The slowest result first: 4 s of rendering on web1.
    expect(html).toMatch(
      /<section id="slowest">.*?<tbody><tr><td class="num">4\.00 s<\/td><td><a href="#r4">render config for web1</,
    );
  });

  it('never writes the secret, in any form', async () => {
    const html = await render();
    expect(html).not.toContain(SECRET);
    expect(html).not.toContain(htmlEscape(SECRET));
    expect(html).toContain('********');
  });

  it('writes to the given path on close', async () => {
    const path = join(tmp, 'report.html');
    const h = new HtmlOutput({ redactor: new Redactor(), path });
    for (const e of events()) h.emit(e);
    await h.close();
    expect(readFileSync(path, 'utf8')).toContain('<section id="timeline">');
  });

  it('renders in headless Chromium with the timeline visible (screenshot test)', async () => {
    const html = await render();
    const size = { w: 1200, h: 900 };
    // The report itself carries no test hooks: a copy gets a script that writes each bar's
    // on-screen box into the DOM, which --dump-dom prints after the page's scripts ran.
    const probe = `<script>
      var out=[];document.querySelectorAll('#timeline a.bar').forEach(function(b){
        var r=b.getBoundingClientRect();out.push({s:b.getAttribute('data-status'),x:r.left,y:r.top,w:r.width,h:r.height});});
      var t=document.getElementById('timeline').getBoundingClientRect();
      var pre=document.createElement('pre');pre.id='probe';
      pre.textContent=JSON.stringify({bars:out,timeline:{x:t.left,y:t.top,w:t.width,h:t.height},vw:innerWidth});
      document.body.appendChild(pre);</script>`;
    const page = join(tmp, 'page.html');
    const probed = join(tmp, 'probed.html');
    writeFileSync(page, html);
    writeFileSync(probed, html.replace('</body>', `${probe}</body>`));
    const png = join(tmp, 'shot.png');
    const chromium = (args: string[]) =>
      spawnSync(
        'chromium',
        [
          '--headless=new',
          '--no-sandbox',
          '--disable-gpu',
          '--hide-scrollbars',
          '--force-device-scale-factor=1',
          `--user-data-dir=${join(tmp, 'profile')}`,
          `--window-size=${size.w},${size.h}`,
          ...args,
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );

    const dom = chromium(['--dump-dom', `file://${probed}`]);
    expect(dom.error, 'chromium must be installed (.ci/run installs the Debian package)').toBeUndefined();
    const m = /<pre id="probe">([^<]*)<\/pre>/.exec(dom.stdout);
    expect(
      m,
      `no probe output in the dumped DOM:\n${dom.stdout.slice(0, 500)}\n${dom.stderr}`,
    ).not.toBeNull();
    const probe1 = JSON.parse(m![1]!.replaceAll('&quot;', '"').replaceAll('&amp;', '&')) as {
      bars: { s: keyof typeof STATUS_COLORS; x: number; y: number; w: number; h: number }[];
      timeline: { x: number; y: number; w: number; h: number };
      vw: number;
    };
    expect(probe1.vw).toBe(size.w);
    expect(probe1.bars).toHaveLength(6);
    for (const b of probe1.bars) {
      expect(b.w).toBeGreaterThan(0);
      expect(b.h).toBeGreaterThan(0);
      // On screen: inside the viewport the screenshot covers.
      expect(b.y + b.h).toBeLessThan(size.h);
      expect(b.x + b.w).toBeLessThanOrEqual(size.w);
    }
    const byStatus = (s: string) => probe1.bars.filter((b) => b.s === s);
    // 3000 ms (failed) against 1000 ms (ok): three times as wide, give or take rounding.
    const failed = byStatus('failed')[0]!;
    const ok = byStatus('ok')[0]!;
    expect(failed.w / ok.w).toBeGreaterThan(2.8);
    expect(failed.w / ok.w).toBeLessThan(3.2);

    const shot = chromium([`--screenshot=${png}`, `file://${page}`]);
    expect(shot.status, shot.stderr).toBe(0);
    const img = decodePng(readFileSync(png));
    expect([img.width, img.height]).toEqual([size.w, size.h]);
    // Each bar's centre pixel has its status colour: the timeline is really drawn.
    for (const b of probe1.bars.filter((x) => x.w >= 4)) {
      const px = pixel(img, b.x + b.w / 2, b.y + b.h / 2);
      expect(near(px, hexRgb(STATUS_COLORS[b.s])), `${b.s} bar at ${b.x},${b.y} is ${px}`).toBe(true);
    }
    // And the failed colour covers about as many pixels as the failed bar's box.
    const want = hexRgb(STATUS_COLORS.failed);
    let count = 0;
    const t = probe1.timeline;
    for (let y = Math.ceil(t.y); y < t.y + t.h; y++)
      for (let x = Math.ceil(t.x); x < t.x + t.w; x++) if (near(pixel(img, x, y), want, 8)) count++;
    expect(count).toBeGreaterThan(failed.w * failed.h * 0.8);
    // Two browser starts: about 2 s on a quiet machine, allow for a busy one.
  }, 90_000);
});
