/**
 * The last build step (`npm run build`, after tsc): bundles the compiled CLI into
 * dist/bin/drover.cjs and makes its V8 code cache by running it once (ADR 121).
 *
 * - esbuild bundles dist/cli/bundle-entry.js (tsc's output, so the bundle runs the code the
 *   tests compiled) with every dependency into one CommonJS file. Native addons stay where
 *   npm put them: their require() is rewritten to a package path that resolves at run time.
 * - The bundle's last line names its cache file after a hash of the bundle: V8 checks a
 *   cache only against the source length, so a stale cache must never match by name.
 * - One warm-up run (a check-mode playbook on localhost, which writes nothing) compiles
 *   what a run needs; its exit writes the cache. A failed warm-up only loses the cache:
 *   drover then compiles at start as before.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { BUNDLE_HEAD, BUNDLE_TAIL, CACHE_TRAILER } from '../cli/bundle-loader.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(root, 'dist', 'bin');
const bundleFile = join(outDir, 'drover.cjs');

/** `require('./build/Release/x.node')` inside a package -> `require('pkg/build/Release/x.node')`. */
const nativeAddons: Plugin = {
  name: 'native-addons',
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (args) => {
      const abs = join(args.resolveDir, args.path);
      const at = abs.lastIndexOf(`${sep}node_modules${sep}`);
      if (at < 0) return { errors: [{ text: `native addon outside node_modules: ${abs}` }] };
      const inPackage = abs.slice(at + `${sep}node_modules${sep}`.length).split(sep).join('/');
      return { path: inPackage, external: true };
    });
  },
};

async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [join(root, 'dist', 'cli', 'bundle-entry.js')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    outfile: bundleFile,
    // Error classes are told apart by name in places; keep names as written.
    keepNames: true,
    // Drops comments and indentation: a third less source for V8 to read and keep.
    // DROVER_NO_BUNDLE=1 runs the modules when a readable stack trace is wanted.
    minifyWhitespace: true,
    // Optional native packages their users load only when present.
    external: ['cpu-features', 'pg-native'],
    plugins: [nativeAddons],
    // import.meta.url in CommonJS: the bundle's own URL.
    define: { 'import.meta.url': '__drover_bundle_url' },
    banner: { js: "const __drover_bundle_url = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  });
  const text = result.outputFiles[0]!.text;
  // One non-ASCII character makes V8 hold the whole source as two-byte: twice the memory.
  const wide = /[^\x00-\x7f]/.exec(text);
  if (wide) {
    const around = text.slice(Math.max(0, wide.index - 60), wide.index + 20);
    throw new Error(`the bundle must be ASCII; write this with \\u escapes in the source: ...${around}...`);
  }
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const cacheName = `drover-${hash}.v8cache`;
  mkdirSync(outDir, { recursive: true });
  for (const f of readdirSync(outDir)) if (f.endsWith('.v8cache')) rmSync(join(outDir, f));
  writeFileSync(bundleFile, `${BUNDLE_HEAD}${text}${BUNDLE_TAIL}${CACHE_TRAILER}${cacheName}\n`);
  return cacheName;
}

const WARMUP = `- name: warm-up
  hosts: localhost
  gather_facts: false
  vars:
    items: [a, b, c]
  tasks:
    - ping:
    - set_fact:
        joined: "{{ items | map('upper') | join(',') }}"
    - debug:
        msg: "{{ joined }} {{ items | length }} {{ {'k': 1} | to_json }}"
    - stat:
        path: /
      register: st
    - assert:
        that:
          - st.stat.isdir
          - joined == 'A,B,C'
    - copy:
        content: "{{ item }}\\n"
        dest: "{{ dir }}/{{ item }}.txt"
      loop: "{{ items }}"
    - template:
        src: warmup.j2
        dest: "{{ dir }}/warmup.conf"
    - lineinfile:
        path: "{{ dir }}/settings"
        line: "a=1"
        create: true
    - command: echo hi
`;

/** Runs the bundle once in check mode against localhost; its exit writes the cache. */
function warmUp(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'drover-warmup-'));
  try {
    writeFileSync(join(dir, 'warmup.yml'), WARMUP);
    writeFileSync(join(dir, 'warmup.j2'), '{% for i in items %}{{ i }}={{ loop.index }}\n{% endfor %}');
    writeFileSync(join(dir, 'inventory.ini'), 'localhost ansible_connection=local\n');
    const r = spawnSync(
      process.execPath,
      [
        join(root, 'dist', 'cli', 'drover.js'),
        'playbook',
        '-i',
        join(dir, 'inventory.ini'),
        join(dir, 'warmup.yml'),
        '--check',
        '-e',
        `dir=${dir}`,
      ],
      { cwd: dir, encoding: 'utf8', env: { ...process.env, DROVER_WRITE_CODE_CACHE: '1' } },
    );
    if (r.status !== 0) return `the warm-up run exited ${r.status}: ${(r.stderr || r.stdout).trim()}`;
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether the launcher takes the new bundle and V8 accepts its cache. */
function check(): string | undefined {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'drover.js'), '--version'], {
    encoding: 'utf8',
    env: { ...process.env, DROVER_DEBUG_START: '1' },
  });
  const line = r.stderr.split('\n').find((l) => l.startsWith('drover start:'));
  return line === 'drover start: bundle, code cache accepted' ? undefined : (line ?? r.stderr.trim());
}

const cacheName = await bundle();
const warm = warmUp();
if (warm) process.stderr.write(`bundle: ${warm}\n`);
const problem = check();
const where = relative(root, bundleFile);
if (problem) process.stderr.write(`bundle: ${where} runs without its code cache (slower start): ${problem}\n`);
else process.stdout.write(`bundle: ${where}, code cache ${cacheName}\n`);
