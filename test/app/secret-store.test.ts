import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSecretStore, headlessSecretStore, type SecretCipher } from '../../electron/app/secret-store.js';
import { makeTempDir } from '../helpers/tmp.js';

/** A keychain for the test: AES-GCM under a key of its own; `available` switches it off as a locked keychain would. */
function testCipher(): SecretCipher & { available: boolean } {
  const key = randomBytes(32);
  return {
    available: true,
    async unavailableReason() {
      return this.available ? null : 'the keychain is locked.';
    },
    async encrypt(plain) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), body]);
    },
    async decrypt(data) {
      const d = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
      d.setAuthTag(data.subarray(12, 28));
      return Buffer.concat([d.update(data.subarray(28)), d.final()]).toString('utf8');
    },
  };
}

describe('FileSecretStore', () => {
  it('stores only ciphertext, keeps the other secrets when one changes, and forgets a deleted one', async () => {
    const dir = path.join(makeTempDir('aurora-secrets'), 'user-data');
    const store = new FileSecretStore(dir, testCipher());
    await store.set('target:b2:secretAccessKey', 'first-secret-value');
    await store.set('target:nas:password', 'second-secret-value');
    await store.set('target:b2:secretAccessKey', 'third-secret-value');
    const text = readFileSync(store.file, 'utf8');
    for (const secret of ['first', 'second', 'third']) expect(text).not.toContain(`${secret}-secret-value`);
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(await store.get('target:b2:secretAccessKey')).toBe('third-secret-value');
    expect(await store.get('target:nas:password')).toBe('second-secret-value');
    await store.delete('target:nas:password');
    await store.delete('target:never-stored');
    expect(await store.get('target:nas:password')).toBeNull();
    expect(await store.get('target:b2:secretAccessKey')).toBe('third-secret-value');
  });

  it('refuses to store anything while the keychain is unavailable, and says why', async () => {
    const dir = path.join(makeTempDir('aurora-secrets-locked'), 'user-data');
    const cipher = testCipher();
    cipher.available = false;
    const store = new FileSecretStore(dir, cipher);
    await expect(store.set('target:b2:secretAccessKey', 'not-written-anywhere')).rejects.toThrow('Cannot save the secret: the keychain is locked.');
    expect(() => statSync(store.file)).toThrow();
  });

  it('a damaged secrets.json is reported by path, not taken for an empty one (which the next save would overwrite)', async () => {
    const dir = path.join(makeTempDir('aurora-secrets-damaged'), 'user-data');
    mkdirSync(dir, { recursive: true });
    const store = new FileSecretStore(dir, testCipher());
    writeFileSync(store.file, '{"version": 1, "secrets": {"a": 12}}');
    await expect(store.get('a')).rejects.toThrow(`The saved secrets in ${store.file} are damaged`);
    await expect(store.set('b', 'x-value')).rejects.toThrow('are damaged');
    expect(readFileSync(store.file, 'utf8')).toBe('{"version": 1, "secrets": {"a": 12}}');
  });

  it('refuses names that are not plain identifiers', async () => {
    const store = new FileSecretStore(makeTempDir('aurora-secrets-names'), testCipher());
    await expect(store.set('../settings', 'x')).rejects.toThrow('is not a usable secret name');
  });
});

it('serve keeps no secret: saving one says where the credentials go instead', async () => {
  const store = headlessSecretStore({});
  await expect(store.set('target:b2:secretAccessKey', 'secret-value')).rejects.toThrow(/no keychain.*AWS_ACCESS_KEY_ID/);
  expect(await store.get('target:b2:secretAccessKey')).toBeNull();
});
