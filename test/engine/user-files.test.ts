import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../electron/engine/config.js';
import { readIdentityFile, readPassphraseFile, resolveRecipients } from '../../electron/engine/crypto/keys.js';
import { loadTargetsFile } from '../../electron/engine/targets/open.js';
import { collect, ROOT, startCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';

/** Every file a user names is read the same way: what it was meant to be, its path and the fix. */
const readers = [
  { what: 'recipients file', code: 'BAD_RECIPIENT', read: (file: string) => resolveRecipients([file]), fix: 'Give an age public key (age1…) or a file of them, one a line.' },
  { what: 'identity file', code: 'BAD_IDENTITY', read: readIdentityFile, fix: 'Give the file age-keygen (or the app) wrote, holding AGE-SECRET-KEY-1….' },
  { what: 'passphrase file', code: 'BAD_PASSPHRASE', read: readPassphraseFile, fix: 'Give a file whose first line is the passphrase.' },
  { what: '.env file', code: 'ENV_FILE', read: (file: string) => resolveConfig({ envFile: file }), fix: 'Check the path given with --env-file.' },
  { what: 'targets file', code: 'BAD_TARGET', read: loadTargetsFile, fix: 'Check the path given with --targets; `aurora-backup targets --help` shows the file\'s format.' },
];

describe('files the user names', () => {
  it.each(readers)('a missing or folder $what is named with the fix', async ({ what, code, read, fix }) => {
    const dir = makeTempDir('user-files');
    const missing = path.join(dir, 'missing.txt');
    await expect(read(missing)).rejects.toMatchObject({ code, message: `The ${what} ${missing} does not exist. ${fix}` });
    await expect(read(path.join(dir, 'no-folder', 'x.txt'))).rejects.toMatchObject({ code, message: expect.stringContaining('does not exist') });
    const folder = path.join(dir, 'a-folder');
    mkdirSync(folder);
    await expect(read(folder)).rejects.toMatchObject({ code, message: `The ${what} ${folder} is a folder. Give the file itself.` });
  });

  it('a file this user may not read is refused as such, on the command line too', async () => {
    const root = makeTempDir('user-files');
    chmodSync(root, 0o755);
    const targets = path.join(root, 'targets.json');
    writeFileSync(targets, '{"targets": []}', { mode: 0o600 });
    // As root every file is readable: the CLI runs as nobody, as a PDS operator's unprivileged user would.
    const asOtherUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    if (!process.getuid || process.getuid() !== 0) chmodSync(targets, 0o000);
    const run = await collect(startCli(['targets', '--targets', targets], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: '/tmp' }, ...asOtherUser }));
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`aurora-backup: The targets file ${targets} cannot be read by this user (permission denied). Run as a user allowed to read it, or give a copy this user may read.\n`);
  });
});
