import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_COMMAND } from '../helpers/run-cli.js';
import { tempDir } from './harness.js';

describe('aurora-backup serve', () => {
  it('prints exactly one line, the URL with its token, serves the API there, and stops cleanly on SIGTERM', async () => {
    const { dir, cleanup } = await tempDir('serve');
    const data = path.join(dir, 'data');
    await mkdir(data);
    const [node, ...cli] = CLI_COMMAND;
    const child = spawn(node!, [...cli, 'serve', '--user-data', path.join(dir, 'ud'), '--data', data, '--out', path.join(dir, 'out')], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('\n')) resolve(stdout.trim());
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}$/);

    const { origin, searchParams } = new URL(url);
    const token = searchParams.get('token')!;
    const settings = await fetch(`${origin}/api/getSettings`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: '{}' });
    expect(await settings.json()).toMatchObject({ ok: true, value: { dataDir: data, backupDir: path.join(dir, 'out') } });
    expect((await fetch(`${origin}/`)).status).toBe(200);

    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toEqual([url]);
    await cleanup();
  });
});
