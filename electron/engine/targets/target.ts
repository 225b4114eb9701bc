import type { Readable } from 'node:stream';
import { EngineError } from '../errors.js';
import type { BandwidthLimit } from './bandwidth.js';

export interface UploadOptions {
  /** Bytes of the file. */
  size: number;
  /** Bytes of it the target already holds under this name (a partial file from an interrupted upload). */
  existing: number;
  /** Bytes sent. */
  onBytes(bytes: number): void;
  /** Bytes the target turned out to hold already (parts of an interrupted multipart upload). */
  onSkipped?(bytes: number): void;
  limit: BandwidthLimit | null;
  signal?: AbortSignal;
}

/** A local file of a backup with its size and SHA-256 as the manifest records them. */
export interface LocalFileFacts {
  path: string;
  size: number;
  sha256: string;
}

/**
 * One off-site place that holds backup folders with the local backup directory's layout
 * (`<root>/backup_YYYYMMDD_HHMMSS/manifest.json`, …). Paths are '/'-separated and relative: `folder` is a
 * backup folder's name, `file` a path inside it. Every method throws a TargetError worded for the user.
 */
export interface Target {
  /** The user's name for it (or the URL it was given as). */
  readonly name: string;
  /** Where it points, without any secret: `s3://bucket/prefix at https://…`, `sftp://user@host:22/path`. */
  readonly location: string;
  /** Connects and checks that the root can be listed and written; says what it found. */
  test(): Promise<string>;
  /** Names of the entries directly under the root. */
  listFolders(): Promise<string[]>;
  /** Every file below `folder` with its size; empty when the folder is not there. */
  listFiles(folder: string): Promise<Map<string, number>>;
  /** Sends a local file to `folder/file`, continuing after `existing` bytes where the target can. */
  upload(localPath: string, folder: string, file: string, opts: UploadOptions): Promise<void>;
  /**
   * Whether `folder/file` holds the bytes the manifest records, by the server's own checksum, so that it
   * need not be read back: true or false when it could tell, null when the target keeps none that can be compared.
   */
  serverChecksumMatches?(folder: string, file: string, local: LocalFileFacts, signal?: AbortSignal): Promise<boolean | null>;
  /** The bytes of `folder/file`. */
  read(folder: string, file: string, signal?: AbortSignal): Promise<Readable>;
  removeFile(folder: string, file: string): Promise<void>;
  /**
   * Makes the finished `from` folder appear as `to`, `manifest.json` last, so that `to` never looks
   * complete before every file is there. `to` may hold the leftovers of an earlier attempt (never a manifest).
   */
  publish(from: string, to: string, files: readonly string[]): Promise<void>;
  /** Removes a folder and everything in it; the manifest first, so a half-removed copy never looks complete. */
  removeFolder(folder: string): Promise<void>;
  close(): Promise<void>;
}

/** A target's failure: one sentence naming the target and what to do, never a credential. */
export class TargetError extends EngineError {
  constructor(
    message: string,
    code = 'TARGET_FAILED',
    /** The SFTP status code of a failed request, when there was one. */
    readonly status?: number,
  ) {
    super(message, code);
  }
}

/** Replaces every secret that appears in `text` by `***` (messages of libraries can quote what they were given). */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

/** Common network failures in words. */
export function networkReason(error: NodeJS.ErrnoException): string | null {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'the connection was refused (is the server running, and the port right?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'ETIMEDOUT':
      return 'the connection timed out';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the server dropped the connection';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'the host cannot be reached';
    default:
      return null;
  }
}

export const MANIFEST = 'manifest.json';

/** `files` in the order a publish moves them: the manifest last. */
export const manifestLast = (files: readonly string[]) => [...files.filter((f) => f !== MANIFEST), ...files.filter((f) => f === MANIFEST)];
