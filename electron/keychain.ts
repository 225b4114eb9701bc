import { safeStorage } from 'electron';
import { FileSecretStore, type SecretCipher, type SecretStore } from './app/secret-store.js';

/**
 * The OS keychain through Electron's safeStorage (macOS Keychain, Windows DPAPI, libsecret or KWallet on
 * Linux). On Linux without a keyring safeStorage falls back to a fixed, public key ('basic_text'): that is
 * plain text in disguise, so it counts as unavailable.
 */
export const safeStorageCipher: SecretCipher = {
  async unavailableReason() {
    if (!(await safeStorage.isAsyncEncryptionAvailable())) {
      return "this computer's keychain is not available to the app, so it cannot be kept safely. Unlock or set up the keychain and try again.";
    }
    if (process.platform === 'linux' && safeStorage.getSelectedStorageBackend() === 'basic_text') {
      return 'no keyring (GNOME Keyring or KWallet) is running in this session, so it cannot be kept safely. Start one, log out and in again, and try again.';
    }
    return null;
  },
  encrypt: (plain) => safeStorage.encryptStringAsync(plain),
  decrypt: async (encrypted) => (await safeStorage.decryptStringAsync(encrypted)).result,
};

/** secrets.json in the user-data folder, each secret encrypted by the keychain. */
export function keychainSecretStore(userDataDir: string): SecretStore {
  return new FileSecretStore(userDataDir, safeStorageCipher);
}
