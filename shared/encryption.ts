/** An age X25519 public key (bech32, `age1` + 58 characters): what backups are encrypted to. */
export const AGE_RECIPIENT_PATTERN = /^age1[02-9ac-hj-np-z]{58}$/;

/** The file extension an encrypted backup file gets after its compression's: `blobs.tar.gz.age`. */
export const ENCRYPTED_EXTENSION = '.age';

/** How a backup is encrypted, as the manifest records it (public keys only, never a secret). */
export type EncryptionMode = 'recipients' | 'passphrase';

/** What an unencrypted backup says once per run. */
export const SECRETS_NOT_BACKED_UP =
  'Secrets not backed up: turn on encryption to include the PDS configuration (pds.env: JWT secret, PLC rotation key, admin password). ' +
  "The actors' signing keys ARE in this backup, unencrypted (in the actor archive): keep the backup folder private.";
