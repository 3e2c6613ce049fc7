import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The drover checkout this file belongs to, from source (test/lab) or built (dist/test/lab). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'drover') return dir;
    } catch {
      // keep walking up
    }
    const up = dirname(dir);
    if (up === dir)
      throw new Error('cannot find the drover checkout (package.json named drover) above test/lab');
    dir = up;
  }
}
