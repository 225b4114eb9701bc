import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './run-cli.js';

export interface WriterStats {
  writes: number;
  /** Image posts: a blob file, then the records that use it. */
  images: number;
  busyErrors: number;
  seconds: number;
}

export interface RunningWriter {
  child: ChildProcess;
  /** SIGTERM, then the writer's own count of what it wrote. */
  stop(): Promise<WriterStats>;
}

/** Starts scripts/simulate-pds-writer.mjs on a data dir and resolves once it has started writing; `images`: image posts a second. */
export function startWriter(dataDir: string, rate = 200, opts: { images?: number } = {}): Promise<RunningWriter> {
  const args = [path.join(ROOT, 'scripts/simulate-pds-writer.mjs'), dataDir, '--rate', String(rate), '--images', String(opts.images ?? 0)];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const exited = new Promise<string>((resolve) => child.on('close', () => resolve(output)));
  return new Promise((resolve, reject) => {
    let ready = false;
    child.on('error', reject);
    child.on('close', (code) => ready || reject(new Error(`simulate-pds-writer exited early (code ${code}): ${output}`)));
    child.stdout!.on('data', (d: Buffer) => {
      output += d;
      if (!ready && output.startsWith('ready\n')) {
        ready = true;
        resolve({
          child,
          async stop() {
            child.kill('SIGTERM');
            const text = await exited;
            return JSON.parse(text.trim().split('\n').pop()!) as WriterStats;
          },
        });
      }
    });
  });
}
