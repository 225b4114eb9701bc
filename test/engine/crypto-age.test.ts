import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  createDecryptor,
  generateKeyPair,
  IDENTITY_PREFIX,
  identityFileText,
  readIdentityFile,
  readPassphraseFile,
  recipientOf,
  resolveRecipients,
} from '../../electron/engine/crypto/index.js';
import { AGE, ageWithPassphrase, decryptFile, encryptFile, run } from '../helpers/age-cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { mistype } from '../helpers/typo.js';

/**
 * Sizes around the 64 KiB STREAM chunk: empty, one byte, exactly one chunk, one past, several; and around
 * the 16 chunks sealed or opened in one batch on a worker: exactly one batch, one byte past, several.
 */
const SIZES = [0, 1, 65536, 65537, 3 * 65536, 300_000, 16 * 65536, 16 * 65536 + 1, 40 * 65536 + 7];

async function keyFile(dir: string) {
  const pair = await generateKeyPair();
  const file = path.join(dir, 'key.txt');
  await writeFile(file, identityFileText(pair), { mode: 0o600 });
  return { ...pair, file };
}

async function plainFile(dir: string, size: number): Promise<string> {
  const file = path.join(dir, `plain-${size}`);
  await writeFile(file, randomBytes(size));
  return file;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return `${(error as { code?: string }).code}: ${(error as Error).message}`;
  }
  return 'no error';
}

describe('age keys', () => {
  it('makes X25519 key pairs that age-keygen agrees with, in its file format', async () => {
    const dir = makeTempDir('age-keys');
    const key = await keyFile(dir);
    expect(key.identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(key.recipient).toMatch(/^age1[0-9a-z]{58}$/);
    expect((await run('age-keygen', ['-y', key.file])).stdout.trim()).toBe(key.recipient);
    expect(await recipientOf(key.identity)).toBe(key.recipient);
    expect(await readIdentityFile(key.file)).toEqual([key.identity]);
    // The identity file doubles as a recipients file (its "# public key:" line), and so does age-keygen's.
    await run('age-keygen', ['-o', path.join(dir, 'theirs.txt')]);
    const theirs = (await run('age-keygen', ['-y', path.join(dir, 'theirs.txt')])).stdout.trim();
    expect(await resolveRecipients([key.file, path.join(dir, 'theirs.txt'), key.recipient])).toEqual([key.recipient, theirs]);
  });

  it('refuses bad recipients, identities and passphrase files, naming the file and line', async () => {
    const dir = makeTempDir('age-keys');
    const { recipient, identity } = await generateKeyPair();
    const typo = mistype(recipient);
    expect(await codeOf(resolveRecipients([typo]))).toMatch(/BAD_RECIPIENT: .*checksum/);
    expect(await codeOf(resolveRecipients(['age1pq1abc']))).toMatch(/BAD_RECIPIENT: .*post-quantum/);
    expect(await codeOf(resolveRecipients(['ssh-ed25519 AAAAC3Nz']))).toMatch(/BAD_RECIPIENT: .*SSH key/);
    // A secret key where a public one belongs is refused without being repeated (messages reach logs and mail).
    for (const secret of [identity, identity.toLowerCase()]) {
      const message = await codeOf(resolveRecipients([secret]));
      expect(message).toMatch(/BAD_RECIPIENT: Cannot encrypt: An age secret key .* was given where the public key belongs.*age-keygen -y/);
      expect(message.toUpperCase()).not.toContain(identity.slice(IDENTITY_PREFIX.length, IDENTITY_PREFIX.length + 8));
    }
    expect(await codeOf(resolveRecipients([path.join(dir, 'nope.txt')]))).toMatch(/BAD_RECIPIENT: The recipients file .*nope\.txt does not exist. Give an age public key \(age1…\) or a file of them/);
    await writeFile(path.join(dir, 'recipients.txt'), `# team\n${recipient}\nnot-a-key\n`);
    expect(await codeOf(resolveRecipients([path.join(dir, 'recipients.txt')]))).toMatch(/recipients\.txt, line 3: "not-a-key" is not an age public key/);

    await writeFile(path.join(dir, 'public.txt'), `${recipient}\n`);
    expect(await codeOf(readIdentityFile(path.join(dir, 'public.txt')))).toMatch(/public\.txt, line 1: this is a public key/);
    await writeFile(path.join(dir, 'cut.txt'), `${identity.slice(0, -3)}\n`);
    expect(await codeOf(readIdentityFile(path.join(dir, 'cut.txt')))).toMatch(/BAD_IDENTITY: .*cut\.txt, line 1/);
    expect(await codeOf(readIdentityFile(path.join(dir, 'cut.txt')))).not.toContain(identity.slice(IDENTITY_PREFIX.length, IDENTITY_PREFIX.length + 4));
    expect(await codeOf(readIdentityFile(path.join(dir, 'missing.txt')))).toMatch(/BAD_IDENTITY: The identity file .*missing\.txt does not exist/);
    await writeFile(path.join(dir, 'empty-pass'), '\n');
    expect(await codeOf(readPassphraseFile(path.join(dir, 'empty-pass')))).toMatch(/BAD_PASSPHRASE: .*empty/);
    await writeFile(path.join(dir, 'pass'), 'correct horse battery\nsecond line ignored\n');
    expect(await readPassphraseFile(path.join(dir, 'pass'))).toBe('correct horse battery');
  });
});

describe('age files with X25519 keys', () => {
  it.each(SIZES)('%i bytes: ours decrypt with `age -d -i`, and age -r files decrypt with ours', async (size) => {
    const dir = makeTempDir('age-x25519');
    const key = await keyFile(dir);
    const plain = await plainFile(dir, size);
    const original = await readFile(plain);

    await encryptFile(plain, `${plain}.age`, { kind: 'recipients', recipients: [key.recipient] });
    const byAge = await run(AGE, ['-d', '-i', key.file, `${plain}.age`], { encoding: 'buffer', maxBuffer: 1 << 24 });
    expect(byAge.stdout.equals(original)).toBe(true);
    const theirs = `${plain}.theirs.age`;
    await run(AGE, ['-r', key.recipient, '-o', theirs, plain]);
    await decryptFile(theirs, `${plain}.by-us`, { identities: [key.identity] });
    expect((await readFile(`${plain}.by-us`)).equals(original)).toBe(true);
  });

  it('encrypts to several recipients, each of which can decrypt alone (age -e -R, too)', async () => {
    const dir = makeTempDir('age-x25519');
    const [a, b] = [await keyFile(makeTempDir('age-a')), await keyFile(makeTempDir('age-b'))];
    const plain = await plainFile(dir, 100_000);
    await encryptFile(plain, `${plain}.age`, { kind: 'recipients', recipients: [a.recipient, b.recipient] });
    for (const key of [a, b]) {
      const out = `${plain}.${key.recipient.slice(4, 10)}`;
      await run(AGE, ['-d', '-i', key.file, '-o', out, `${plain}.age`]);
      expect((await readFile(out)).equals(await readFile(plain))).toBe(true);
    }
    await writeFile(path.join(dir, 'recipients'), `${a.recipient}\n${b.recipient}\n`);
    await run(AGE, ['-e', '-R', path.join(dir, 'recipients'), '-o', `${plain}.theirs`, plain]);
    await decryptFile(`${plain}.theirs`, `${plain}.back`, { identities: [b.identity] });
    expect((await readFile(`${plain}.back`)).equals(await readFile(plain))).toBe(true);
  });
});

describe('the payload is opened whatever the sizes it is read in', () => {
  it.each([
    ['chunk by chunk, each sealed chunk exactly one read', (_: number) => 65552],
    ['a byte short of and a byte past each chunk, in turn', (i: number) => (i % 2 === 0 ? 65551 : 65553)],
    ['single bytes, then a chunk and a byte', (i: number) => (i < 40 ? 1 : 65553)],
    ['a megabyte and odd sizes', (i: number) => [1 << 20, 7, 65536, 3][i % 4]!],
  ])('%s', async (_name, sizeOf) => {
    const dir = makeTempDir('age-reads');
    const key = await keyFile(dir);
    for (const size of [16 * 65536, 40 * 65536 + 7]) {
      const plain = await plainFile(dir, size);
      await encryptFile(plain, `${plain}.age`, { kind: 'recipients', recipients: [key.recipient] });
      const sealed = await readFile(`${plain}.age`);
      const payloadStart = sealed.indexOf('\n---') + sealed.subarray(sealed.indexOf('\n---') + 1).indexOf(0x0a) + 2 + 16;
      // The header and nonce too arrive in these pieces (one byte at a time in the first case), checked against their digest.
      const headerSha256 = createHash('sha256').update(sealed.subarray(0, payloadStart)).digest('hex');
      const reads: Buffer[] = [];
      for (let at = 0, i = 0; at < sealed.length; i++) {
        reads.push(sealed.subarray(at, at + sizeOf(i)));
        at += sizeOf(i);
      }
      const opened: Buffer[] = [];
      await pipeline(Readable.from(reads), createDecryptor({ identities: [key.identity] }, `${plain}.age`, headerSha256), async (chunks: AsyncIterable<Buffer>) => {
        for await (const chunk of chunks) opened.push(Buffer.from(chunk)); // a copy: the decryptor's blocks are filled again
      });
      expect(Buffer.concat(opened).equals(await readFile(plain)), `${size} bytes`).toBe(true);
    }
  });
});

describe('a header digest to check', () => {
  it('refuses an age file whose header and nonce are not the recorded ones, before trying any key', async () => {
    const dir = makeTempDir('age-digest');
    const key = await keyFile(dir);
    const plain = await plainFile(dir, 70_000);
    await encryptFile(plain, `${plain}.age`, { kind: 'recipients', recipients: [key.recipient] });
    await encryptFile(plain, `${plain}.other`, { kind: 'recipients', recipients: [key.recipient] }); // the same bytes, sealed again
    const other = await readFile(`${plain}.other`);
    const otherEnd = other.indexOf(0x0a, other.indexOf('\n---') + 1) + 1;
    const digestOfOther = createHash('sha256').update(other.subarray(0, otherEnd + 16)).digest('hex');
    const wrongKey = { identities: [(await keyFile(makeTempDir('age-digest-other'))).identity] };
    for (const keys of [{ identities: [key.identity] }, wrongKey]) {
      const refused = pipeline(Readable.from([await readFile(`${plain}.age`)]), createDecryptor(keys, `${plain}.age`, digestOfOther), async (chunks: AsyncIterable<Buffer>) => {
        for await (const _chunk of chunks);
      });
      await expect(refused).rejects.toMatchObject({ code: 'DECRYPT_DAMAGED', message: expect.stringContaining("is damaged: its header and nonce are not the ones manifest.json records: it is another age file (another backup's, perhaps) put in its place") });
    }
  });
});

describe('age files with a passphrase (scrypt)', () => {
  it('ours decrypt with `age -d` and ours; `age -p` files decrypt with ours', async () => {
    const dir = makeTempDir('age-scrypt');
    const plain = await plainFile(dir, 70_000);
    const original = await readFile(plain);
    const passphrase = 'correct horse battery staple';

    await encryptFile(plain, `${plain}.age`, { kind: 'passphrase', passphrase });
    expect((await readFile(`${plain}.age`)).toString('latin1')).toMatch(/^age-encryption\.org\/v1\n-> scrypt \S{22} 18\n/);
    await decryptFile(`${plain}.age`, `${plain}.by-us`, { identities: [], passphrase });
    expect((await readFile(`${plain}.by-us`)).equals(original)).toBe(true);
    const decrypted = await ageWithPassphrase(['-d', '-o', `${plain}.by-age`, `${plain}.age`], passphrase);
    expect(decrypted.code, decrypted.output).toBe(0);
    expect((await readFile(`${plain}.by-age`)).equals(original)).toBe(true);

    const encrypted = await ageWithPassphrase(['-p', '-o', `${plain}.theirs`, plain], passphrase);
    expect(encrypted.code, encrypted.output).toBe(0);
    await decryptFile(`${plain}.theirs`, `${plain}.back`, { identities: [], passphrase });
    expect((await readFile(`${plain}.back`)).equals(original)).toBe(true);
    // A guard, not a measure: five scrypt derivations at age's work factor (2^18, 256 MiB each) took over
    // 2 minutes on 2 cores beside another test run on a busy machine.
  }, 600_000);
});

describe('bad input is refused, naming the file', () => {
  it('a wrong key, a wrong passphrase, and the wrong kind of secret', async () => {
    const dir = makeTempDir('age-bad');
    const key = await keyFile(dir);
    const other = await generateKeyPair();
    const plain = await plainFile(dir, 1000);
    const byKey = `${plain}.key.age`;
    const byPassphrase = `${plain}.pass.age`;
    await encryptFile(plain, byKey, { kind: 'recipients', recipients: [key.recipient] });
    await encryptFile(plain, byPassphrase, { kind: 'passphrase', passphrase: 'right' });
    const out = path.join(dir, 'out');

    expect(await codeOf(decryptFile(byKey, out, { identities: [other.identity], source: '--identity other.txt' }))).toMatch(
      /^DECRYPT_WRONG_KEY: Cannot decrypt .*key\.age: the identity given \(--identity other\.txt\) is not one it was encrypted to/,
    );
    expect(await codeOf(decryptFile(byPassphrase, out, { identities: [], passphrase: 'wrong' }))).toMatch(/^DECRYPT_WRONG_KEY: Cannot decrypt .*pass\.age: wrong passphrase/);
    expect(await codeOf(decryptFile(byKey, out, { identities: [], passphrase: 'right' }))).toMatch(/^DECRYPT_NO_KEY: .*key\.age is encrypted to age public keys, not with a passphrase: give .* --identity FILE/);
    expect(await codeOf(decryptFile(byPassphrase, out, { identities: [key.identity] }))).toMatch(/^DECRYPT_NO_KEY: .*pass\.age is encrypted with a passphrase, not to a key: give .* --passphrase-file FILE/);
    expect(await codeOf(decryptFile(plain, out, { identities: [key.identity] }))).toMatch(/^DECRYPT_NOT_AGE: .*plain-1000 is not an age-encrypted file/);
  }, 600_000); // a guard: scrypt at 2^18 (256 MiB each) took over a minute here on a busy machine

  it('an unknown recipient type (an SSH key) is named', async () => {
    const dir = makeTempDir('age-bad');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id')]);
    const plain = await plainFile(dir, 10);
    await run(AGE, ['-R', path.join(dir, 'id.pub'), '-o', `${plain}.age`, plain]);
    const key = await generateKeyPair();
    expect(await codeOf(decryptFile(`${plain}.age`, path.join(dir, 'out'), { identities: [key.identity] }))).toMatch(
      /^DECRYPT_UNKNOWN_RECIPIENT: Cannot decrypt .*plain-10\.age: it is encrypted to a kind of recipient this tool cannot read \(ssh-ed25519\)/,
    );
  });

  it('a flipped payload byte (only the chunk tag sees it), a flipped header MAC, a truncated file', async () => {
    const dir = makeTempDir('age-bad');
    const key = await keyFile(dir);
    const plain = await plainFile(dir, 20 * 65536 + 100); // more than the 16 chunks of one batch
    const sealed = `${plain}.age`;
    await encryptFile(plain, sealed, { kind: 'recipients', recipients: [key.recipient] });
    const bytes = await readFile(sealed);
    const headerEnd = bytes.indexOf('\n---') + bytes.subarray(bytes.indexOf('\n---') + 1).indexOf(0x0a) + 2;
    const keys = { identities: [key.identity] };
    const variant = async (name: string, change: (b: Buffer) => Buffer) => {
      const file = path.join(dir, name);
      await writeFile(file, change(Buffer.from(bytes)));
      const out = path.join(dir, `${name}.out`);
      const result = await codeOf(decryptFile(file, out, keys));
      const age = await run(AGE, ['-d', '-i', key.file, '-o', path.join(dir, `${name}.age-out`), file]).then(() => 'age accepted it', (e: Error) => e.message);
      return { result, age };
    };

    const payload = await variant('payload-flip', (b) => {
      b[headerEnd + 16 + 65552 + 1000]! ^= 0x01; // inside the second chunk
      return b;
    });
    expect(payload.result).toMatch(new RegExp(`^DECRYPT_DAMAGED: .*payload-flip is damaged: its chunk at byte ${headerEnd + 16 + 65552} does not authenticate`));
    expect(payload.age).toMatch(/failed to decrypt/);
    const laterBatch = await variant('payload-flip-later', (b) => {
      b[headerEnd + 16 + 17 * 65552 + 7]! ^= 0x80; // inside chunk 17, in the second batch
      return b;
    });
    expect(laterBatch.result).toMatch(new RegExp(`^DECRYPT_DAMAGED: .*payload-flip-later is damaged: its chunk at byte ${headerEnd + 16 + 17 * 65552} does not authenticate`));
    expect(laterBatch.age).toMatch(/failed to decrypt/);

    const mac = await variant('mac-flip', (b) => {
      b[headerEnd - 5]! ^= 0x01; // a base64 character of the MAC
      return b;
    });
    expect(mac.result).toMatch(/^DECRYPT_DAMAGED: .*mac-flip is damaged: (its header was changed \(the header MAC does not match\)|its header cannot be read)/);
    expect(mac.age).not.toBe('age accepted it');

    const truncated = await variant('truncated', (b) => b.subarray(0, b.length - 50));
    expect(truncated.result).toMatch(/^DECRYPT_DAMAGED: .*truncated is damaged: its last chunk .* does not authenticate: it was changed or cut short/);
    expect(truncated.age).not.toBe('age accepted it');

    // Cut exactly after a full chunk: every byte left authenticates, only the missing last-chunk flag tells.
    const atChunk = await variant('cut-at-chunk', (b) => b.subarray(0, headerEnd + 16 + 2 * 65552));
    expect(atChunk.result).toMatch(/^DECRYPT_DAMAGED: .*cut-at-chunk is damaged: its last chunk .* cut short/);
    expect(atChunk.age).not.toBe('age accepted it');
    const atBatch = await variant('cut-at-batch', (b) => b.subarray(0, headerEnd + 16 + 16 * 65552));
    expect(atBatch.result).toMatch(new RegExp(`^DECRYPT_DAMAGED: .*cut-at-batch is damaged: its last chunk \\(from byte ${headerEnd + 16 + 15 * 65552}\\) does not authenticate: it was changed or cut short`));
    expect(atBatch.age).not.toBe('age accepted it');

    const appended = await variant('appended', (b) => Buffer.concat([b, Buffer.from([0])]));
    expect(appended.result).toMatch(/^DECRYPT_DAMAGED: .*appended is damaged: its last chunk \(from byte \d+\) does not authenticate/); // the byte joins it
    expect(appended.age).not.toBe('age accepted it');
    const nonceCut = await variant('nonce-cut', (b) => b.subarray(0, headerEnd + 8));
    expect(nonceCut.result).toMatch(/^DECRYPT_DAMAGED: .*nonce-cut is damaged: it ends before its payload/);

    const headerOnly = await variant('header-only', (b) => b.subarray(0, headerEnd - 10));
    expect(headerOnly.result).toMatch(/^DECRYPT_DAMAGED: .*header-only is damaged: it ends inside its header/);
    expect(existsSync(path.join(dir, 'header-only.out'))).toBe(true); // the output stream opened; nothing was decrypted into it
    expect((await readFile(path.join(dir, 'header-only.out'))).length).toBe(0);
  });
});
