/**
 * Loads drover's CommonJS bundle with its V8 code cache (ADR 121); see cli/drover.ts.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import vm from 'node:vm';

type Main = () => Promise<void>;

/**
 * The bundle is written as one function expression, Node's CommonJS wrapper around the
 * module, so the launcher hands the file's text to V8 as it is (no second copy of a
 * 2 MB string). Its last line names its code cache: `//# drover-code-cache=FILE`.
 */
export const BUNDLE_HEAD = '(function (exports, require, module, __filename, __dirname) {';
export const BUNDLE_TAIL = '\n})';
export const CACHE_TRAILER = '\n//# drover-code-cache=';

export interface LoadedBundle {
  main: Main;
  /** Whether V8 used the code cache: 'none' when there is none for this bundle. */
  cache: 'accepted' | 'rejected' | 'none';
  /** Writes the code cache of everything compiled so far (atomically). */
  writeCache(): void;
}

/**
 * Compiles `file` (a wrapped CommonJS bundle exporting `main`) as Node would, but through
 * vm.Script so V8 can take the cache the bundle names. A cache that does not fit (another Node or V8
 * flags) is rejected by V8 and the code compiles as usual.
 */
export function loadBundle(file: string): LoadedBundle | undefined {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  if (!source.startsWith(BUNDLE_HEAD)) throw new Error(`${file} is not a drover bundle`);
  const at = source.lastIndexOf(CACHE_TRAILER);
  const cacheFile = at >= 0 ? join(dirname(file), source.slice(at + CACHE_TRAILER.length).trim()) : undefined;
  let cachedData: Buffer | undefined;
  if (cacheFile) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      cachedData = undefined;
    }
  }
  const script = new vm.Script(source, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
    // import() inside the bundle (e.g. of an optional package) goes to Node's own loader.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} as { main?: Main } };
  const fn = script.runInThisContext() as (
    exports: object,
    require: NodeJS.Require,
    module: object,
    filename: string,
    dirname: string,
  ) => void;
  fn.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  const main = module.exports.main;
  if (typeof main !== 'function') throw new Error(`${file} does not export main()`);
  return {
    main,
    cache: cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted',
    writeCache() {
      if (!cacheFile) throw new Error(`${file} names no code cache file`);
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
    },
  };
}
