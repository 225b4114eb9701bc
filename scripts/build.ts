// `npm run build`: self-contained bundles (esbuild) and the window (Vite), all in dist/:
//   main.mjs, preload.cjs     the Electron main process and the window's preload (CommonJS: sandboxed)
//   cli.mjs                   the command line (bin/aurora-backup.mjs runs it)
//   *-worker.mjs              the worker threads, beside the bundles that start them
//   renderer/                 the window
// Every package is bundled in except better-sqlite3 (a native addon, loaded from node_modules) and
// electron, so the packaged app and the installed CLI need nothing else at run time, and no dev tool.
import { rm } from 'node:fs/promises';
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
  'preload.cjs': 'electron/preload.cts',
} as const;

/** The packages left out of the bundles, loaded from node_modules at run time. */
export const RUNTIME_PACKAGES = ['better-sqlite3', 'electron'];
/** Left out and not shipped: ssh2's optional native CPU probe, never built here; ssh2 runs without it. */
const OPTIONAL_NATIVE = ['cpu-features'];

export async function buildAll(opts: { outDir?: string; renderer?: boolean; quiet?: boolean } = {}): Promise<string> {
  const outDir = opts.outDir ?? path.join(root, 'dist');
  for (const name of Object.keys(BUNDLES)) await rm(path.join(outDir, name), { force: true });
  await bundle(BUNDLES, outDir, opts);
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
 */
export async function bundle(entries: Record<string, string>, outDir: string, opts: { quiet?: boolean } = {}): Promise<void> {
  const common: BuildOptions = {
    bundle: true,
    platform: 'node',
    target: 'node22',
    external: [...RUNTIME_PACKAGES, ...OPTIONAL_NATIVE],
    // The job worker loads the engine's TypeScript through tsx only when run from the sources.
    // ssh2 reads __dirname at load (the path of its Windows pageant helper), which an ES module lacks.
    define: { 'globalThis.AURORA_BUNDLED': 'true', __dirname: 'import.meta.dirname' },
    legalComments: 'none',
    logLevel: opts.quiet ? 'error' : 'warning',
  };
  await Promise.all(
    Object.entries(entries).map(([name, entry]) => {
      const outfile = path.join(outDir, name);
      if (name.endsWith('.cjs')) return build({ ...common, entryPoints: [path.join(root, entry)], outfile, format: 'cjs' });
      return build({
        ...common,
        entryPoints: [path.join(root, entry)],
        outfile,
        format: 'esm',
        // CommonJS packages bundled into an ES module still call require() (for node: built-ins and electron).
        banner: { js: "import { createRequire as __aurora_createRequire } from 'node:module'; const require = __aurora_createRequire(import.meta.url);" },
      });
    }),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outDir = await buildAll();
  console.log(`build: bundles and renderer in ${outDir}`);
}
