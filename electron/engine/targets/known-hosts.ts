import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** `SHA256:…` of a host key blob, as `ssh-keygen -lf` and OpenSSH's prompts print it. */
export const fingerprint = (key: Buffer) => `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;

/**
 * The SFTP servers' host keys seen so far, pinned on first use: a JSON file `{"host:port": "SHA256:…"}`.
 * A server that later shows another key is refused.
 */
export class KnownHosts {
  constructor(readonly file: string) {}

  async get(hostPort: string): Promise<string | null> {
    return (await this.read())[hostPort] ?? null;
  }

  async pin(hostPort: string, print: string): Promise<void> {
    const pins = await this.read();
    pins[hostPort] = print;
    await mkdir(path.dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(pins, null, 2)}\n`, { mode: 0o600 });
    await rename(temp, this.file);
  }

  private async read(): Promise<Record<string, string>> {
    try {
      const parsed = JSON.parse(await readFile(this.file, 'utf8')) as unknown;
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new Error(`Cannot read the pinned SFTP host keys in ${this.file}: ${(error as Error).message}. Fix or delete the file.`);
    }
  }
}
