import { z } from 'zod';

/** A target's name as the CLI's --to/--from/--target take it and as the history shows it. */
const targetName = z
  .string()
  .min(1, 'Give the target a name')
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'Letters, digits, dot, dash and underscore; starting with a letter or digit');

/** Retention on the target; without it, copies are never removed there. */
const retention = z
  .object({
    retainDays: z.number().int('Whole days').min(1, 'At least 1 day').max(3650),
    keepLast: z.number().int().min(1, 'Keep at least the newest copy').max(1000).default(3),
  })
  .optional();

const common = {
  name: targetName,
  enabled: z.boolean().default(true),
  retention,
  /** Upload limit in KiB/s; 0 or absent: none. */
  bandwidthLimitKiBps: z.number().int().min(0).max(10_000_000).optional(),
};

export const folderTargetSchema = z.object({
  ...common,
  type: z.literal('folder'),
  /** Another disk, a mounted share, a synced cloud-drive folder. */
  path: z.string().min(1, 'Choose the folder'),
});

export const s3TargetSchema = z.object({
  ...common,
  type: z.literal('s3'),
  bucket: z.string().min(3, 'Name the bucket').max(255),
  /** Key prefix inside the bucket ("aurora/" or ""), without a leading slash. */
  prefix: z.string().max(512).default(''),
  /** Empty: AWS itself. Otherwise the service's URL (Backblaze, R2, Wasabi, MinIO, …). */
  endpoint: z.union([z.literal(''), z.url({ protocol: /^https?$/, error: 'A URL like https://s3.eu-central-003.backblazeb2.com' })]).default(''),
  region: z.string().max(64).default('us-east-1'),
  /** bucket in the path (https://host/bucket/key) rather than in the host name; most non-AWS services want it. */
  forcePathStyle: z.boolean().default(false),
  /** Without these the standard AWS chain is used: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then the credentials file. */
  accessKeyId: z.string().max(256).optional(),
  secretAccessKey: z.string().max(256).optional(),
  /** A profile of the shared credentials file (~/.aws/credentials or AWS_SHARED_CREDENTIALS_FILE). */
  profile: z.string().max(128).optional(),
  credentialsFile: z.string().optional(),
  /** Files larger than this go in parts of this size (S3's minimum is 5 MiB). */
  partSizeMiB: z.number().int().min(5).max(5120).default(16),
});

export const sftpTargetSchema = z.object({
  ...common,
  type: z.literal('sftp'),
  host: z.string().min(1, 'Name the SFTP server'),
  port: z.number().int().min(1).max(65535).default(22),
  username: z.string().min(1, 'Name the user'),
  /** The folder on the server that holds the backup folders. */
  path: z.string().min(1, 'Choose the folder on the server'),
  privateKeyFile: z.string().optional(),
  password: z.string().max(1024).optional(),
  /** The server's host key as `SHA256:…` (ssh-keygen -lf). Absent: pinned on first connection. */
  hostKey: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'A fingerprint like SHA256:… as ssh-keygen -lf prints it').optional(),
});

export const targetSpecSchema = z.discriminatedUnion('type', [folderTargetSchema, s3TargetSchema, sftpTargetSchema]);
export const targetsFileSchema = z.object({ targets: z.array(targetSpecSchema).max(50).default([]) });

export type FolderTargetSpec = z.infer<typeof folderTargetSchema>;
export type S3TargetSpec = z.infer<typeof s3TargetSchema>;
export type SftpTargetSpec = z.infer<typeof sftpTargetSchema>;
export type TargetSpec = z.infer<typeof targetSpecSchema>;
export type TargetSpecInput = z.input<typeof targetSpecSchema>;

/** Where a target points, for messages and logs: never a secret. */
export function describeTarget(spec: TargetSpec): string {
  switch (spec.type) {
    case 'folder':
      return spec.path;
    case 's3':
      return `s3://${spec.bucket}/${spec.prefix}${spec.endpoint ? ` at ${spec.endpoint}` : ''}`;
    case 'sftp':
      return `sftp://${spec.username}@${spec.host}:${spec.port}${spec.path.startsWith('/') ? '' : '/'}${spec.path}`;
  }
}

/** One backup's copy on one target, as the history and the app report it. */
export interface TargetCopyResult {
  target: string;
  /** Where it points, without any secret (describeTarget). */
  location: string;
  ok: boolean;
  /** Files sent (not already on the target). */
  uploadedFiles: number;
  uploadedBytes: number;
  /** Already complete on the target: nothing was sent. */
  alreadyThere: boolean;
  /** Copies removed by the target's retention. */
  pruned: string[];
  /** Copies the retention meant to remove but could not, in words (the copy itself succeeded). */
  pruneFailures: string[];
  /** Why the copy failed, in words naming the target (never a credential). */
  error?: string;
  /** The EngineError code of the failure: TARGET_AUTH, TARGET_UNREACHABLE, TARGET_FULL, TARGET_CORRUPT, … */
  code?: string;
}
