import { z } from 'zod';
import { COMPONENTS, COMPRESSIONS, DATABASE_COMPONENTS, STORED_COMPONENTS } from '../../shared/components.js';
import { AGE_RECIPIENT_PATTERN, ENCRYPTED_EXTENSION } from '../../shared/encryption.js';
import { MANIFEST_FORMAT_VERSION, type Manifest } from '../../shared/manifest.js';
import { EngineError } from './errors.js';

/**
 * manifest.json comes in two flavours:
 * - ours: the original backup.sh fields plus an `aurora_backup` block with checksums;
 * - the original scripts/backup.sh: no `aurora_backup` block. It writes `databases` and
 *   `data_directories` as objects ({"account": "account.sqlite", …}) and `backup_timestamp` in UTC
 *   ISO form; other versions of the script wrote arrays, so both are accepted.
 */

/** `["account.sqlite", …]` or `{"account": "account.sqlite", …}` → the list of names. */
const nameList = z
  .union([z.array(z.string()), z.record(z.string(), z.string())])
  .transform((value) => (Array.isArray(value) ? value : Object.values(value)));

/** A path inside the backup folder: relative, '/'-separated, no `..`, nothing Windows would reject. */
const relativePath = z
  .string()
  .min(1)
  .refine(
    (p) => !p.startsWith('/') && !/^[a-zA-Z]:/.test(p) && !p.includes('\\') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..'),
    'must be a relative path inside the backup folder',
  );

const originalFields = {
  backup_timestamp: z.string(),
  backup_version: z.string(),
  pds_version: z.string(),
  hostname: z.string(),
  service_did: z.string(),
  databases: nameList,
  data_directories: nameList,
  backup_size: z.string(),
};

const manifestFile = z.looseObject({
  path: relativePath,
  component: z.enum(STORED_COMPONENTS),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
  encrypted: z.boolean().optional(),
  age_header_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits').optional(),
  unpacked_size: z.number().int().nonnegative().optional(),
});

/** A backup folder's name: a holder is always a sibling folder, never a path. */
const holderName = z.string().regex(/^(backup|pre-restore)_\d{8}_\d{6}$/, 'must be a backup folder name');

const contentsSchema = z.looseObject({
  data_dir: z.string(),
  holders: z.array(z.looseObject({ name: holderName, compression: z.enum(COMPRESSIONS), files: z.array(manifestFile) })).min(1),
  databases: z.array(
    z.looseObject({
      name: z.enum(DATABASE_COMPONENTS),
      holder: z.number().int().nonnegative(),
      snapshot_size: z.number().int().nonnegative(),
      page_count: z.number().int().nonnegative(),
    }),
  ),
  // `.` for files directly in actors/; each file a plain name inside its folder.
  actors: z.array(z.tuple([z.union([z.literal('.'), relativePath]), z.number().int().nonnegative(), z.array(relativePath.refine((n) => !n.includes('/'), 'must be a file name'))])),
  blobs: z.array(z.tuple([relativePath, z.number().int().nonnegative(), z.number().int().nonnegative()])),
  fingerprints: z.record(z.string(), z.string()),
});

const ourManifestSchema = z.looseObject({
  ...originalFields,
  compression: z.enum(COMPRESSIONS),
  aurora_backup: z.looseObject({
    format_version: z.number().int().min(1),
    app_version: z.string(),
    created_at: z.iso.datetime({ offset: true }),
    host: z.looseObject({ hostname: z.string(), platform: z.string(), arch: z.string() }),
    files: z.array(manifestFile),
    database_snapshots: z.array(
      z.looseObject({
        name: z.enum(DATABASE_COMPONENTS),
        snapshot_size: z.number().int().nonnegative(),
        page_count: z.number().int().nonnegative(),
      }),
    ),
    counts: z.looseObject({
      accounts: z.number().int().nonnegative(),
      actors: z.number().int().nonnegative(),
      blobs: z.number().int().nonnegative(),
    }),
    sequencer_last_seq: z.number().int().nullable(),
    locations: z.partialRecord(z.enum(COMPONENTS), z.string().min(1)).optional(),
    duration_ms: z.number().nonnegative(),
    total_size: z.number().int().nonnegative(),
    encryption: z
      .looseObject({
        format: z.literal('age-encryption.org/v1', 'must be age-encryption.org/v1 (the only encryption this version reads)'),
        mode: z.enum(['recipients', 'passphrase']),
        recipients: z.array(z.string().regex(AGE_RECIPIENT_PATTERN, 'must be an age public key (age1…)')),
        secrets: z.array(relativePath),
      })
      .optional(),
    kind: z.enum(['full', 'incremental']).optional(),
    base: holderName.optional(),
    parent: holderName.optional(),
    contents: contentsSchema.optional(),
  })
    // An incremental backup may store nothing itself (nothing changed); a full one always stores something.
    .refine((block) => block.files.length > 0 || block.kind === 'incremental', { path: ['files'], message: 'lists no files' })
    .refine((block) => block.kind !== 'incremental' || (block.contents !== undefined && block.base !== undefined), {
      path: ['contents'],
      message: 'an incremental backup must name its base and list what it stands for',
    })
    .refine((block) => !block.contents || holdersInRange(block.contents), { path: ['contents'], message: 'names a holder it does not list' }),
})
  .superRefine((manifest, ctx) => {
    // Each file is encrypted exactly when the backup says it is, and named for it: a manifest edited to
    // call an encrypted file plain (or the other way round) is refused, not half-read.
    const encrypted = manifest.aurora_backup.encryption !== undefined;
    for (const [i, file] of manifest.aurora_backup.files.entries()) {
      const flagged = file.encrypted === true;
      if (flagged !== encrypted || file.path.endsWith(ENCRYPTED_EXTENSION) !== encrypted) {
        ctx.addIssue({ code: 'custom', path: ['aurora_backup', 'files', i], message: encrypted ? `${file.path} must be an encrypted .age file like every file of an encrypted backup` : `${file.path} is marked encrypted, but the manifest records no encryption` });
      }
      if (file.age_header_sha256 !== undefined && !flagged) {
        ctx.addIssue({ code: 'custom', path: ['aurora_backup', 'files', i, 'age_header_sha256'], message: `${file.path} is not an age file, so it has no age header to record` });
      }
      if (file.component === 'secrets' && !encrypted) {
        ctx.addIssue({ code: 'custom', path: ['aurora_backup', 'files', i], message: 'a secrets file is only ever written encrypted' });
      }
    }
    // An incremental backup reads its chain with the same identity or passphrase: the chain is encrypted exactly as it is.
    for (const [h, holder] of (manifest.aurora_backup.contents?.holders ?? []).entries()) {
      for (const [i, file] of holder.files.entries()) {
        if ((file.encrypted === true) !== encrypted || file.path.endsWith(ENCRYPTED_EXTENSION) !== encrypted) {
          ctx.addIssue({ code: 'custom', path: ['aurora_backup', 'contents', 'holders', h, 'files', i], message: encrypted ? `${holder.name}/${file.path} must be an encrypted .age file like every file this backup reads` : `${holder.name}/${file.path} is marked encrypted, but the manifest records no encryption` });
        }
      }
    }
    const mode = manifest.aurora_backup.encryption;
    if (mode && (mode.mode === 'recipients') !== mode.recipients.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['aurora_backup', 'encryption', 'recipients'], message: mode.mode === 'recipients' ? 'lists no recipient' : 'a passphrase backup lists no recipients' });
    }
  });

function holdersInRange(contents: z.infer<typeof contentsSchema>): boolean {
  const count = contents.holders.length;
  const inRange = (holder: number) => holder < count;
  return contents.databases.every((d) => inRange(d.holder)) && contents.actors.every((a) => inRange(a[1])) && contents.blobs.every((b) => inRange(b[1]));
}

/** The original script's fields; all optional because hand-edited and older copies exist. */
const legacyManifestSchema = z.looseObject({
  backup_timestamp: z.string().optional(),
  backup_version: z.string().optional(),
  pds_version: z.string().optional(),
  hostname: z.string().optional(),
  service_did: z.string().optional(),
  compression: z.string().default('gzip'),
  databases: nameList.optional(),
  data_directories: nameList.optional(),
  backup_size: z.string().optional(),
});

export type LegacyManifest = z.infer<typeof legacyManifestSchema>;

export type ParsedManifest =
  | { legacy: false; manifest: Manifest; raw: Record<string, unknown> }
  | { legacy: true; manifest: LegacyManifest; raw: Record<string, unknown> };

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Parses manifest.json text. `file` names the manifest in error messages. Throws EngineError with
 * code MANIFEST_INVALID (not JSON, wrong shape) or FORMAT_TOO_NEW (written by a newer app).
 */
export function parseManifest(text: string, file: string): ParsedManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new EngineError(
      `${file} is not valid JSON (${(error as Error).message}): the backup is damaged or was not written completely.`,
      'MANIFEST_INVALID',
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new EngineError(`${file} does not hold a JSON object, so it is not a backup manifest.`, 'MANIFEST_INVALID');
  }
  const record = raw as Record<string, unknown>;

  if (!('aurora_backup' in record)) {
    const parsed = legacyManifestSchema.safeParse(record);
    if (!parsed.success) {
      throw new EngineError(`${file} is not a valid backup manifest: ${describeIssues(parsed.error)}.`, 'MANIFEST_INVALID');
    }
    return { legacy: true, manifest: parsed.data, raw: record };
  }

  // Check the version before the shape: a newer format may legitimately look different.
  const block = record.aurora_backup as { format_version?: unknown } | null;
  const version = typeof block === 'object' && block !== null ? block.format_version : undefined;
  if (typeof version === 'number' && version > MANIFEST_FORMAT_VERSION) {
    throw new EngineError(
      `${file} has format version ${version}, but this version of Aurora Locus Backup reads format ${MANIFEST_FORMAT_VERSION} ` +
        `and older. The backup was made by a newer version: update Aurora Locus Backup to use it.`,
      'FORMAT_TOO_NEW',
    );
  }
  const parsed = ourManifestSchema.safeParse(record);
  if (!parsed.success) {
    throw new EngineError(`${file} is not a valid backup manifest: ${describeIssues(parsed.error)}.`, 'MANIFEST_INVALID');
  }
  return { legacy: false, manifest: parsed.data as Manifest, raw: record };
}
