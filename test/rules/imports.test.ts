// The layering the code keeps (see README "for developers"), checked on every import, dynamic ones included,
// as TypeScript reads them: the engine and the app logic run without Electron (the CLI and `serve` use
// them), the engine knows nothing of the app, and the window's code reaches nothing but its own and shared/.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|tsx|mts|cts|js|mjs|cjs)$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

/**
 * Every module a file imports, exports from, requires or import()s: packages as written, files of the
 * project as `/` + their path from the repository root (`/shared/api.js`).
 */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(path.join(ROOT, file), 'utf8'), true, true);
  return importedFiles.map(({ fileName }) =>
    fileName.startsWith('.') ? `/${path.relative(ROOT, path.resolve(ROOT, path.dirname(file), fileName)).split(path.sep).join('/')}` : fileName,
  );
}

const isElectron = (spec: string) => spec === 'electron' || spec.startsWith('electron/') || spec === 'electron-log/main';
const isNodeBuiltin = (spec: string) => spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!);

/** "file → import" for every import of files under `dirs` that `bad` picks out. */
function violations(dirs: string[], bad: (spec: string) => boolean): string[] {
  return dirs.flatMap(sourceFiles).flatMap((file) => importsOf(file).filter(bad).map((spec) => `${file} → ${spec}`));
}

describe('what each part of the code may import', () => {
  it('the engine, the app logic and shared/ never import Electron', () => {
    expect(violations(['electron/engine', 'electron/app', 'shared'], isElectron)).toEqual([]);
  });

  it('the engine never imports the app', () => {
    expect(violations(['electron/engine'], (spec) => spec.startsWith('/electron/app/'))).toEqual([]);
  });

  it('the window (renderer/) imports only renderer/, shared/ and browser packages: no Electron, no Node', () => {
    const outside = (spec: string) => isElectron(spec) || isNodeBuiltin(spec) || (spec.startsWith('/') && !spec.startsWith('/renderer/') && !spec.startsWith('/shared/'));
    // The window's build and test setup run in Node, not in the window.
    const windowCode = violations(['renderer'], outside).filter((v) => !/^renderer\/(vite\.config\.ts|.*\.test\.tsx?) /.test(v));
    expect(windowCode).toEqual([]);
  });

  it('the checks see the imports they are about', () => {
    expect(importsOf('electron/main.ts')).toEqual(expect.arrayContaining(['electron', '/electron/app/controller.js']));
    expect(importsOf('electron/app/job-worker.mjs')).toContain('/electron/engine/backup.js'); // a dynamic import()
    expect(sourceFiles('renderer').length).toBeGreaterThan(10);
  });
});
