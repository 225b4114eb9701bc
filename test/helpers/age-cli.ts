import { execFile, spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createDecryptor, createEncryptor, type DecryptionKeys, type EncryptionKeys } from '../../electron/engine/crypto/index.js';

/** Debian's age CLI (package `age`), the tool every backup must decrypt with. */
export const AGE = '/usr/bin/age';
export const run = promisify(execFile);

/**
 * Runs `age` on a terminal of its own (util-linux `script` gives it a pty), answering each passphrase
 * prompt as it appears: age reads passphrases from the terminal only, never from stdin or a file.
 */
export function ageWithPassphrase(args: string[], passphrase: string): Promise<{ code: number | null; output: string }> {
  const quoted = [AGE, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qfec', quoted, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let answered = 0;
  const onData = (data: Buffer) => {
    output += data.toString();
    // "Enter passphrase…" and, when encrypting, "Confirm passphrase:": one answer per prompt seen.
    const prompts = output.match(/passphrase[^:\n]*:/gi)?.length ?? 0;
    while (answered < prompts) {
      child.stdin.write(`${passphrase}\n`);
      answered++;
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      child.stdin.destroy();
      resolve({ code, output });
    });
  });
}

export async function encryptFile(input: string, output: string, keys: EncryptionKeys): Promise<void> {
  await pipeline(createReadStream(input), await createEncryptor(keys), createWriteStream(output));
}

export async function decryptFile(input: string, output: string, keys: DecryptionKeys): Promise<void> {
  await pipeline(createReadStream(input), createDecryptor(keys, input), createWriteStream(output));
}
