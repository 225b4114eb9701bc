// `npm run build`: self-contained bundles (esbuild) and the window (Vite), all in dist/:
//   main.mjs, preload.cjs     the Electron main process and the window's preload (CommonJS: sandboxed)
//   cli.mjs, cli-chunk-*.mjs  the command line (bin/aurora-backup.mjs runs it), in parts loaded on demand
//   *-worker.mjs              the worker threads, beside the bundles that start them
//   renderer/                 the window
// Every package is bundled in except better-sqlite3 (a native addon, loaded from node_modules) and
// electron, so the packaged app and the installed CLI need nothing else at run time, and no dev tool.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const root = path.join(import.meta.dirname, '..');

/** Entry points and their output names in dist/. */
export const BUNDLES = {
  'main.mjs': 'electron/main.ts',
  'cli.mjs': 'electron/cli/main.ts',
  'job-worker.mjs': 'electron/app/job-worker.mjs',
  'snapshot-worker.mjs': 'electron/engine/snapshot-worker.mjs',
  'integrity-check-worker.mjs': 'electron/engine/integrity-check-worker.mjs',
  'age-stream-worker.mjs': 'electron/engine/crypto/age-stream-worker.mjs',
  'preload.cjs': 'electron/preload.cts',
} as const;

/**
 * Split into chunks loaded on demand: the CLI, so that a command reads only the code it runs (a backup
 * without off-site targets never reads the S3 and SFTP libraries: start-up −0.25 s of CPU, −20 MB). The
 * app's bundles stay whole files (electron-builder.yml lists them).
 */
export const SPLIT: readonly string[] = ['cli.mjs'];
/** The packages left out of the bundles, loaded from node_modules at run time. */
export const RUNTIME_PACKAGES = ['better-sqlite3', 'electron'];
/** Left out and not shipped: ssh2's optional native CPU probe, never built here; ssh2 runs without it. */
const OPTIONAL_NATIVE = ['cpu-features'];

/** What every bundle shares. */
export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  // A native addon a package tries to load (ssh2's sshcrypto.node, built when npm runs install scripts) is
  // left as a require that fails at run time; the package catches it and runs its JavaScript fallback.
  external: [...RUNTIME_PACKAGES, ...OPTIONAL_NATIVE, '*.node'],
  // The job worker loads the engine's TypeScript through tsx only when run from the sources.
  // ssh2 reads __dirname at load (the path of its Windows pageant helper), which an ES module lacks.
  define: { 'globalThis.AURORA_BUNDLED': 'true', __dirname: 'import.meta.dirname' },
  legalComments: 'none',
};

export async function buildAll(opts: { outDir?: string; renderer?: boolean; quiet?: boolean } = {}): Promise<string> {
  const outDir = opts.outDir ?? path.join(root, 'dist');
  const chunkOf = (name: string) => SPLIT.some((entry) => name.startsWith(`${path.basename(entry, '.mjs')}-chunk-`));
  for (const name of await readdir(outDir).catch(() => [])) if (name in BUNDLES || chunkOf(name)) await rm(path.join(outDir, name), { force: true });
  await bundle(BUNDLES, outDir, { ...opts, split: SPLIT });
  if (opts.renderer !== false) {
    const { build: viteBuild } = await import('vite');
    await viteBuild({
      configFile: path.join(root, 'renderer', 'vite.config.ts'),
      build: { outDir: path.join(outDir, 'renderer') },
      logLevel: opts.quiet ? 'error' : 'info',
    });
  }
  return outDir;
}

/**
 * Bundles each entry (`{ 'out.mjs': 'path/from/root.ts' }`) into `outDir` as `npm run build` does for the
 * app and the CLI (the benchmark bundles its own entry points with it, so that it measures the same code).
 * The ES module entries named in `split` are split: what they import on demand (`import()`), with what
 * only that uses, goes into chunks `<entry>-chunk-<hash>.mjs` beside them, read only when imported.
 */
export async function bundle(entries: Record<string, string>, outDir: string, opts: { quiet?: boolean; split?: readonly string[] } = {}): Promise<void> {
  const common: BuildOptions = { ...BUNDLE_OPTIONS, logLevel: opts.quiet ? 'error' : 'warning' };
  await Promise.all(
    Object.entries(entries).map(([name, entry]) => {
      const outfile = path.join(outDir, name);
      if (name.endsWith('.cjs')) return build({ ...common, entryPoints: [path.join(root, entry)], outfile, format: 'cjs' });
      const esm: BuildOptions = {
        ...common,
        format: 'esm',
        // CommonJS packages bundled into an ES module still call require() (for node: built-ins and electron).
        banner: { js: "import { createRequire as __aurora_createRequire } from 'node:module'; const require = __aurora_createRequire(import.meta.url);" },
      };
      if (!opts.split?.includes(name)) return build({ ...esm, entryPoints: [path.join(root, entry)], outfile });
      // Beside the entry, where the engine's code finds its workers (new URL('./x-worker.mjs', import.meta.url)).
      const base = path.basename(name, '.mjs');
      return build({ ...esm, entryPoints: { [base]: path.join(root, entry) }, outdir: outDir, splitting: true, chunkNames: `${base}-chunk-[hash]`, outExtension: { '.js': '.mjs' } });
    }),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outDir = await buildAll();
  console.log(`build: bundles and renderer in ${outDir}`);
}
