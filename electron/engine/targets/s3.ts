import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { fromIni } from '@aws-sdk/credential-provider-ini';
import type { S3TargetSpec } from '../../../shared/targets.js';
import { manifestLast, MANIFEST, networkReason, redact, TargetError, type LocalFileFacts, type Target, type UploadOptions } from './target.js';

const MAX_PARTS = 10_000;
const PARTS_IN_FLIGHT = 4;
/** CopyObject's limit; larger objects are copied in parts. */
const COPY_LIMIT = 5 * 1024 ** 3;
const COPY_PART_BYTES = 512 * 1024 * 1024;
/**
 * Beside a file being sent in parts, its upload and each part the server has taken, so a later run resumes:
 * `.aurora-parts/<file>/<upload id>/upload-<size>-<part bytes>` and `…/part-<number>-<ETag>`, all empty
 * objects written once. Unlike one state object rewritten after each part, a PUT cut by a dropped connection
 * can lose at most the record of the part it was for (some servers, s3rver among them, leave an object
 * whose PUT was cut empty: a lost state object made the next run send the whole file again).
 */
const PARTS_DIR = '.aurora-parts';

interface PartsUpload {
  uploadId: string;
  size: number;
  partBytes: number;
  /** Part number → ETag, as the server answered. */
  parts: Map<number, string>;
}

/** An S3-compatible bucket through the AWS SDK v3: AWS, Backblaze B2, Cloudflare R2, Wasabi, MinIO, … */
export class S3Target implements Target {
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly secrets: (string | undefined)[];
  /** Files up to this size go in one request; larger ones in parts of at least this size. */
  private readonly partBytes: number;

  constructor(
    readonly name: string,
    spec: S3TargetSpec,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.bucket = spec.bucket;
    this.partBytes = spec.partSizeMiB * 1024 * 1024;
    this.prefix = spec.prefix.replace(/^\/+/, '').replace(/([^/])$/, '$1/');
    this.location = `s3://${spec.bucket}/${this.prefix}${spec.endpoint ? ` at ${spec.endpoint}` : ''}`;
    const credentials =
      spec.accessKeyId && spec.secretAccessKey
        ? { accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey }
        : spec.profile || spec.credentialsFile
          ? fromIni({ profile: spec.profile, filepath: spec.credentialsFile })
          : env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
            ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN }
            : undefined; // the SDK's own chain: ~/.aws/credentials (AWS_PROFILE), SSO, instance roles
    this.secrets = [spec.secretAccessKey, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN];
    this.client = new S3Client({
      region: spec.region || 'us-east-1',
      endpoint: spec.endpoint || undefined,
      forcePathStyle: spec.forcePathStyle,
      credentials,
      // Many S3-compatible services reject the newer default checksum headers; ours are SHA-256 read-backs.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 15_000, requestTimeout: 120_000 },
    });
  }

  async test(): Promise<string> {
    await this.call('cannot open the bucket', () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
    const probe = `${this.prefix}.aurora-write-test`;
    await this.call('cannot write to the bucket', () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: probe, Body: 'ok' })));
    await this.call('cannot delete from the bucket', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: probe })));
    return `bucket ${this.bucket} is reachable and writable under "${this.prefix}"`;
  }

  async listFolders(): Promise<string[]> {
    const names: string[] = [];
    for await (const page of this.pages(this.prefix, '/')) {
      for (const common of page.CommonPrefixes ?? []) names.push(common.Prefix!.slice(this.prefix.length).replace(/\/$/, ''));
    }
    return names;
  }

  async listFiles(folder: string): Promise<Map<string, number>> {
    const base = this.key(folder, '');
    const files = new Map<string, number>();
    for await (const page of this.pages(base)) {
      for (const object of page.Contents ?? []) {
        const file = object.Key!.slice(base.length);
        if (!file.startsWith(`${PARTS_DIR}/`)) files.set(file, object.Size ?? 0);
      }
    }
    return files;
  }

  async upload(localPath: string, folder: string, file: string, opts: UploadOptions): Promise<void> {
    const key = this.key(folder, file);
    const input = await open(localPath, 'r');
    try {
      if (opts.size <= this.partBytes) {
        const body = await readPart(input, 0, opts.size);
        await opts.limit?.take(body.length, opts.signal);
        await this.call(`upload of ${file} failed`, () =>
          this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length, ContentMD5: md5(body).toString('base64') }), {
            abortSignal: opts.signal,
          }),
        );
        opts.onBytes(body.length);
        return;
      }
      await this.uploadInParts(input, folder, file, opts);
    } finally {
      await input.close();
    }
  }

  /**
   * S3's ETag is the MD5 of an object sent in one request, and the MD5 of its parts' MD5s followed by
   * `-<parts>` for one sent in parts (the parts are those upload() makes, so their size is known). It is
   * compared with the local file's, hashed in the same pass as its SHA-256, which must be `local.sha256`
   * (the manifest's): a match means the object holds the manifest's bytes. Any other ETag (e.g. under
   * SSE-KMS encryption) cannot be compared: null.
   */
  async serverChecksumMatches(folder: string, file: string, local: LocalFileFacts, signal?: AbortSignal): Promise<boolean | null> {
    const head = await this.call(`cannot check ${file}`, () =>
      this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(folder, file) }), { abortSignal: signal }),
    );
    if (head.ContentLength !== local.size) return false;
    const etag = /^"?([0-9a-f]{32})(?:-(\d+))?"?$/i.exec(head.ETag ?? '');
    if (!etag) return null;
    const hex = etag[1]!.toLowerCase();
    const parts = etag[2];
    const hashed = await hashLocal(local.path, parts ? this.partBytesFor(local.size) : null, signal);
    if (hashed.sha256 !== local.sha256) return false;
    return hashed.etag === (parts ? `${hex}-${parts}` : hex) ? true : null;
  }

  async read(folder: string, file: string, signal?: AbortSignal): Promise<Readable> {
    const result = await this.call(`cannot read ${file}`, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(folder, file) }), { abortSignal: signal }),
    );
    if (!(result.Body instanceof Readable)) throw new TargetError(`Target "${this.name}": ${file} came back without a body.`, 'TARGET_FAILED');
    // A connection cut while reading is the SDK's plain socket error; say which target and file it was.
    return wrapStream(result.Body, (error) => this.failure(`reading ${file} failed`, error));
  }

  async removeFile(folder: string, file: string): Promise<void> {
    await this.call(`cannot delete ${file}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(folder, file) })));
  }

  async publish(from: string, to: string, files: readonly string[]): Promise<void> {
    const existing = await this.listFiles(to);
    if (existing.has(MANIFEST)) throw new TargetError(`Target "${this.name}": ${this.prefix}${to} already holds a manifest.`, 'TARGET_FAILED');
    const sizes = await this.listFiles(from);
    for (const file of manifestLast(files)) {
      const size = sizes.get(file);
      if (size === undefined) throw new TargetError(`Target "${this.name}": ${this.key(from, file)} vanished before it was published.`, 'TARGET_FAILED');
      await this.copyObject(this.key(from, file), this.key(to, file), size);
    }
    await this.deleteAll(this.key(from, ''), false);
  }

  async removeFolder(folder: string): Promise<void> {
    await this.deleteAll(this.key(folder, ''), true);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  // ---- internals --------------------------------------------------------------------------------

  /** Parts of at least partSizeMiB, few enough for S3's limit of 10 000. */
  private partBytesFor(size: number): number {
    return Math.max(this.partBytes, Math.ceil(size / MAX_PARTS));
  }

  private key(folder: string, file: string): string {
    return `${this.prefix}${folder}/${file}`;
  }

  private async uploadInParts(input: Awaited<ReturnType<typeof open>>, folder: string, file: string, opts: UploadOptions): Promise<void> {
    const key = this.key(folder, file);
    const partBytes = this.partBytesFor(opts.size);
    const recordsBase = this.key(folder, `${PARTS_DIR}/${file}/`);
    const uploads = await this.readUploads(recordsBase);
    // The earlier run's upload of this same file goes on; any other is of no use any more.
    let upload = uploads.filter((u) => u.size === opts.size && u.partBytes === partBytes).sort((a, b) => b.parts.size - a.parts.size)[0];
    if (!upload) {
      const created = await this.call(`upload of ${file} failed`, () =>
        this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }), { abortSignal: opts.signal }),
      );
      upload = { uploadId: created.UploadId!, size: opts.size, partBytes, parts: new Map() };
      await this.putRecord(`${recordsBase}${encodeURIComponent(upload.uploadId)}/upload-${opts.size}-${partBytes}`);
    }
    const current = upload;
    const partCount = Math.ceil(opts.size / partBytes);
    for (const number of current.parts.keys()) opts.onSkipped?.(Math.min(partBytes, opts.size - (number - 1) * partBytes));

    // A few parts go out at once; each is recorded as soon as the server has taken it.
    const queue = Array.from({ length: partCount }, (_, i) => i + 1).filter((n) => !current.parts.has(n));
    const sender = async () => {
      for (let number = queue.shift(); number !== undefined; number = queue.shift()) {
        const offset = (number - 1) * partBytes;
        const body = await readPart(input, offset, Math.min(partBytes, opts.size - offset));
        await opts.limit?.take(body.length, opts.signal);
        const partNumber = number;
        const sent = await this.call(`upload of ${file} failed`, () =>
          this.client.send(
            new UploadPartCommand({
              Bucket: this.bucket,
              Key: key,
              UploadId: current.uploadId,
              PartNumber: partNumber,
              Body: body,
              ContentLength: body.length,
              ContentMD5: md5(body).toString('base64'),
            }),
            { abortSignal: opts.signal },
          ),
        );
        current.parts.set(number, sent.ETag!);
        opts.onBytes(body.length);
        await this.putRecord(`${recordsBase}${encodeURIComponent(current.uploadId)}/part-${number}-${encodeURIComponent(sent.ETag!)}`);
      }
    };
    const stopOnFailure = () =>
      sender().catch((error: unknown) => {
        queue.length = 0; // the others finish the part they are sending, and take no more
        throw error;
      });
    const senders = Array.from({ length: PARTS_IN_FLIGHT }, stopOnFailure);
    const outcomes = await Promise.allSettled(senders);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason as Error;

    const parts = [...current.parts].sort(([a], [b]) => a - b).map(([PartNumber, ETag]) => ({ PartNumber, ETag }));
    await this.call(`upload of ${file} failed`, () =>
      this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: current.uploadId, MultipartUpload: { Parts: parts } }),
        { abortSignal: opts.signal },
      ),
    );
    for (const other of uploads.filter((u) => u !== current)) await this.abortUpload(key, other.uploadId);
    await this.deleteAll(recordsBase, false);
  }

  /** The uploads recorded under `recordsBase` (see PARTS_DIR), with the parts each has. */
  private async readUploads(recordsBase: string): Promise<PartsUpload[]> {
    const uploads = new Map<string, PartsUpload>();
    const parts: { uploadId: string; number: number; etag: string }[] = [];
    for await (const page of this.pages(recordsBase)) {
      for (const object of page.Contents ?? []) {
        const [id, record, ...more] = object.Key!.slice(recordsBase.length).split('/');
        if (!id || !record || more.length) continue; // the records of a file inside this one's folder
        const uploadId = decodeURIComponent(id);
        const started = /^upload-(\d+)-(\d+)$/.exec(record);
        const part = /^part-(\d+)-(.+)$/.exec(record);
        if (started) uploads.set(uploadId, { uploadId, size: Number(started[1]), partBytes: Number(started[2]), parts: new Map() });
        else if (part) parts.push({ uploadId, number: Number(part[1]), etag: decodeURIComponent(part[2]!) });
      }
    }
    for (const part of parts) uploads.get(part.uploadId)?.parts.set(part.number, part.etag);
    return [...uploads.values()];
  }

  private async putRecord(recordKey: string): Promise<void> {
    await this.call('cannot record the progress of an upload', () =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: recordKey, Body: '', ContentLength: 0 })),
    );
  }

  /** Parts of an unfinished upload are billed until aborted; a server without abort has nothing to bill. */
  private async abortUpload(key: string, uploadId: string): Promise<void> {
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
  }

  private async copyObject(source: string, destination: string, size: number): Promise<void> {
    const copySource = encodeURIComponent(`${this.bucket}/${source}`).replace(/%2F/g, '/');
    if (size <= COPY_LIMIT) {
      await this.call(`cannot publish ${destination}`, () =>
        this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: destination, CopySource: copySource })),
      );
      return;
    }
    const created = await this.call(`cannot publish ${destination}`, () =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: destination })),
    );
    const parts: { PartNumber: number; ETag: string }[] = [];
    for (let number = 1, offset = 0; offset < size; number++, offset += COPY_PART_BYTES) {
      const range = `bytes=${offset}-${Math.min(size, offset + COPY_PART_BYTES) - 1}`;
      const copied = await this.call(`cannot publish ${destination}`, () =>
        this.client.send(
          new UploadPartCopyCommand({ Bucket: this.bucket, Key: destination, UploadId: created.UploadId, PartNumber: number, CopySource: copySource, CopySourceRange: range }),
        ),
      );
      parts.push({ PartNumber: number, ETag: copied.CopyPartResult!.ETag! });
    }
    await this.call(`cannot publish ${destination}`, () =>
      this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: destination, UploadId: created.UploadId, MultipartUpload: { Parts: parts } })),
    );
  }

  /** Deletes every object under `base`: the manifest first, so a half-deleted copy never looks complete. */
  private async deleteAll(base: string, abortUploads: boolean): Promise<void> {
    const keys: string[] = [];
    for await (const page of this.pages(base)) for (const object of page.Contents ?? []) keys.push(object.Key!);
    if (abortUploads) {
      for (const key of keys) {
        const started = /^(.*)\/([^/]+)\/upload-\d+-\d+$/.exec(key.slice(`${base}${PARTS_DIR}/`.length));
        if (key.startsWith(`${base}${PARTS_DIR}/`) && started) await this.abortUpload(`${base}${started[1]}`, decodeURIComponent(started[2]!));
      }
    }
    const manifest = `${base}${MANIFEST}`;
    if (keys.includes(manifest)) await this.call(`cannot delete ${manifest}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: manifest })));
    const rest = keys.filter((k) => k !== manifest);
    for (let i = 0; i < rest.length; i += 1000) {
      const batch = rest.slice(i, i + 1000);
      const result = await this.call(`cannot delete under ${base}`, () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })),
      );
      if (result.Errors?.length) {
        throw new TargetError(`Target "${this.name}": cannot delete ${result.Errors[0]!.Key}: ${result.Errors[0]!.Message ?? result.Errors[0]!.Code}.`, 'TARGET_FAILED');
      }
    }
  }

  private async *pages(prefix: string, delimiter?: string) {
    let token: string | undefined;
    do {
      const page = await this.call('cannot list the bucket', () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: token })),
      );
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw this.failure(what, error);
    }
  }

  private failure(what: string, error: unknown): TargetError {
    if (error instanceof TargetError) return error;
    const e = error as Error & NodeJS.ErrnoException & { $metadata?: { httpStatusCode?: number }; Code?: string };
    const status = e.$metadata?.httpStatusCode;
    let why: string;
    let code = 'TARGET_FAILED';
    switch (e.name) {
      case 'InvalidAccessKeyId':
      case 'SignatureDoesNotMatch':
      case 'InvalidToken':
      case 'ExpiredToken':
        why = 'the server refused the credentials: check the access key id and secret (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the target\'s settings)';
        code = 'TARGET_AUTH';
        break;
      case 'AccessDenied':
      case 'Forbidden':
        why = 'access denied: the credentials are not allowed to do this in the bucket';
        code = 'TARGET_AUTH';
        break;
      case 'NoSuchBucket':
        why = `the bucket "${this.bucket}" does not exist: create it, or check the name and the endpoint`;
        code = 'TARGET_NO_BUCKET';
        break;
      case 'NotFound':
        why = status === 404 ? `the bucket "${this.bucket}" does not exist: create it, or check the name and the endpoint` : 'not found';
        code = status === 404 ? 'TARGET_NO_BUCKET' : code;
        break;
      case 'CredentialsProviderError':
        why = 'no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a credentials file, or the target\'s keys';
        code = 'TARGET_AUTH';
        break;
      case 'QuotaExceeded':
      case 'EntityTooLarge':
      case 'InsufficientStorage':
        why = `the bucket has no room left (${e.name})`;
        code = 'TARGET_FULL';
        break;
      default: {
        const network = networkReason(e) ?? networkReason((e.cause ?? {}) as NodeJS.ErrnoException);
        if (network) {
          why = network;
          code = 'TARGET_UNREACHABLE';
        } else if (e.name === 'TimeoutError') {
          why = 'the server did not answer in time';
          code = 'TARGET_UNREACHABLE';
        } else {
          why = status ? `the server answered ${e.name} (HTTP ${status}): ${e.message}` : e.message;
        }
      }
    }
    return new TargetError(redact(`Target "${this.name}" (${this.location}): ${what}: ${why}.`, this.secrets), code);
  }
}

const md5 = (data: Buffer) => createHash('md5').update(data).digest();

/** The local file's SHA-256, and the ETag S3 gives it uploaded in one request (partBytes null) or in parts of partBytes. */
async function hashLocal(localPath: string, partBytes: number | null, signal?: AbortSignal): Promise<{ sha256: string; etag: string }> {
  const sha256 = createHash('sha256');
  const whole = createHash('md5');
  const partDigests: Buffer[] = [];
  let part = createHash('md5');
  let inPart = 0;
  for await (const chunk of createReadStream(localPath, { highWaterMark: 1024 * 1024, signal })) {
    const bytes = chunk as Buffer;
    sha256.update(bytes);
    if (partBytes === null) {
      whole.update(bytes);
      continue;
    }
    for (let offset = 0; offset < bytes.length; ) {
      const take = Math.min(bytes.length - offset, partBytes - inPart);
      part.update(bytes.subarray(offset, offset + take));
      offset += take;
      inPart += take;
      if (inPart === partBytes) {
        partDigests.push(part.digest());
        part = createHash('md5');
        inPart = 0;
      }
    }
  }
  if (partBytes === null) return { sha256: sha256.digest('hex'), etag: whole.digest('hex') };
  if (inPart > 0) partDigests.push(part.digest());
  return { sha256: sha256.digest('hex'), etag: `${createHash('md5').update(Buffer.concat(partDigests)).digest('hex')}-${partDigests.length}` };
}

async function readPart(input: Awaited<ReturnType<typeof open>>, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  for (let filled = 0; filled < length; ) {
    const { bytesRead } = await input.read(buffer, filled, length - filled, offset + filled);
    if (bytesRead === 0) throw new Error('the local file is shorter than its manifest says');
    filled += bytesRead;
  }
  return buffer;
}

/** The stream with its errors turned into the target's own (a cut connection names the target and file). */
function wrapStream(stream: Readable, translate: (error: unknown) => Error): Readable {
  const wrapped = Readable.from(
    (async function* () {
      try {
        for await (const chunk of stream) yield chunk as Buffer;
      } catch (error) {
        throw translate(error);
      }
    })(),
    { objectMode: false },
  );
  return wrapped;
}
