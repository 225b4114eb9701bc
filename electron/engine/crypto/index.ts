export { generateKeyPair, recipientOf, identityFileText, recipientProblem, resolveRecipients, readIdentityFile, readPassphraseFile, RECIPIENT_PATTERN, IDENTITY_PREFIX, type KeyPair } from './keys.js';
export { createEncryptor, createDecryptor, AGE_MAGIC, type EncryptionKeys, type DecryptionKeys } from './age-stream.js';
