import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { layerFromDir, layerTarStream, readTar } from '../../../src/image/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drover-stream-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('streams a large sparse file through a layer without holding it in memory', async () => {
  const SIZE = 256 * 2 ** 20;
  const tree = join(dir, 'tree');
  await mkdir(tree);
  await writeFile(join(tree, 'big.img'), '');
  await truncate(join(tree, 'big.img'), SIZE); // sparse: no disk blocks, all zeros
  let peak = 0;
  const start = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss() - start);
  }, 10);
  try {
    const layer = await layerFromDir(tree, {
      blobsDir: join(dir, 'blobs'),
      sourceDateEpoch: 1,
      compression: 'none',
    });
    expect(layer.size).toBe(512 + SIZE + 1024);
    const h = createHash('sha256');
    let seen = 0;
    for await (const e of readTar(layerTarStream(layer.blobPath, layer.mediaType))) {
      expect(e).toMatchObject({ name: 'big.img', size: SIZE });
      for await (const c of e.body()) {
        h.update(c);
        seen += c.length;
      }
    }
    expect(seen).toBe(SIZE);
    const zeros = createHash('sha256');
    const mib = Buffer.alloc(2 ** 20);
    for (let i = 0; i < SIZE / mib.length; i++) zeros.update(mib);
    expect(h.digest('hex')).toBe(zeros.digest('hex'));
  } finally {
    clearInterval(timer);
  }
  expect(peak).toBeLessThan(SIZE / 2);
});
