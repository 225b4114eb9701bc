import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { BackupSummary, CopyRecord, CopyStateView, OffsiteStatus, TargetInfo } from '../../shared/api.js';
import type { Progress } from '../../shared/progress.js';
import type { FieldErrors } from '../../shared/settings.js';
import { describeTarget, folderTargetSchema, s3TargetSchema, sftpTargetSchema, targetSpecSchema, type TargetSpec } from '../../shared/targets.js';
import { timeFromFolderName } from '../engine/backup-folder.js';
import { EngineError } from '../engine/errors.js';
import { listTargetBackups } from '../engine/targets/catalog.js';
import { KnownHosts } from '../engine/targets/known-hosts.js';
import type { CopyEvent } from '../engine/targets/offsite.js';
import { loadTargetsFile, openTarget, type TargetContext } from '../engine/targets/open.js';
import { runJobInWorker } from './job-runner.js';
import { describeError, type Logger } from './log.js';
import type { Clock } from './scheduler.js';
import type { SecretStore } from './secret-store.js';
import { WriteQueue, writeFileAtomic } from './settings-store.js';

/** Shared with the CLI, which reads the same files in the same folder. */
export const TARGETS_FILE = 'targets.json';
export const KNOWN_HOSTS_FILE = 'sftp-known-hosts.json';
/** Each backup's last copy per target. */
export const OFFSITE_STATE_FILE = 'offsite.json';
/** Where downloads from a target go, inside the backup folder (the CLI's restore --from uses the same). */
export const DOWNLOAD_DIR = '.offsite-download';

const copyRecordSchema = z.object({
  target: z.string(),
  backupName: z.string(),
  at: z.string(),
  ok: z.boolean(),
  uploadedBytes: z.number(),
  error: z.string().optional(),
});
const stateFileSchema = z.object({ version: z.literal(1), copies: z.array(copyRecordSchema) });
/** Old records go first beyond this many (they describe backups long pruned). */
const MAX_RECORDS = 2000;

/** The keychain name of a target's secret: an S3 secret access key or an SFTP password. */
export const targetSecretName = (spec: Pick<TargetSpec, 'name' | 'type'>) => `target:${spec.name}:${spec.type === 's3' ? 'secretAccessKey' : 'password'}`;

interface QueuedCopy {
  backupPath: string;
  backupName: string;
  /** null: every enabled target. */
  target: string | null;
}

export interface OffsiteOptions {
  userDataDir: string;
  secrets: SecretStore;
  log: Logger;
  clock: Clock;
  /** The status changed (a copy started, ended, a target was added…). */
  onChange(): void;
  onProgress(event: { target: string; backupName: string; progress: Progress }): void;
}

/**
 * The desktop app's off-site copies: the targets of targets.json (their secrets in the keychain), a queue
 * that copies each new backup to every enabled target one after the other — beside the local backups,
 * never blocking them — and the result of each copy, kept in offsite.json.
 */
export class Offsite {
  private specs: TargetSpec[] = [];
  private records: CopyRecord[] = [];
  private readonly queue: QueuedCopy[] = [];
  private copying: { target: string; backupName: string } | null = null;
  private draining: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private readonly knownHosts: KnownHosts;
  /** targets.json and offsite.json, each written whole, in order: a copy's record may never be overwritten by an older list. */
  private readonly writes = new WriteQueue();

  constructor(private readonly opts: OffsiteOptions) {
    this.knownHosts = new KnownHosts(path.join(opts.userDataDir, KNOWN_HOSTS_FILE));
  }

  get targetsFile(): string {
    return path.join(this.opts.userDataDir, TARGETS_FILE);
  }

  private get stateFile(): string {
    return path.join(this.opts.userDataDir, OFFSITE_STATE_FILE);
  }

  /** Reads targets.json and offsite.json; resolves to what is wrong with targets.json, or null. */
  async load(): Promise<string | null> {
    try {
      const text = await readFile(this.stateFile, 'utf8');
      this.records = stateFileSchema.safeParse(JSON.parse(text)).data?.copies ?? [];
    } catch {
      this.records = []; // none yet, or unreadable: the next copy writes it again
    }
    if (!existsSync(this.targetsFile)) return null;
    try {
      this.specs = await loadTargetsFile(this.targetsFile);
      return null;
    } catch (error) {
      this.specs = [];
      return `${error instanceof EngineError ? error.message : describeError(error)} No copies are made off-site until it is fixed.`;
    }
  }

  status(): OffsiteStatus {
    return {
      copying: this.copying,
      queued: this.queue.length,
      targets: this.specs.filter((s) => s.enabled).map((s) => ({ name: s.name, lastCopy: this.lastCopy(s.name), newestCopy: this.newestCopy(s.name) })),
    };
  }

  has(name: string): boolean {
    return this.specs.some((s) => s.name === name);
  }

  async listTargets(): Promise<TargetInfo[]> {
    return Promise.all(this.specs.map((spec) => this.info(spec)));
  }

  /**
   * Validates and saves a new target; its secret goes to the keychain only (refused there: nothing is
   * saved). Then connects to it once: the answer says whether that worked, and an SFTP server's host key
   * is pinned then.
   */
  async add(raw: unknown, secret: string | undefined): Promise<{ ok: true; target: TargetInfo; test: { ok: boolean; message: string } } | { ok: false; errors: FieldErrors }> {
    const errors = targetInputErrors(raw, secret);
    const parsed = targetSpecSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) errors[issue.path.join('.') || 'type'] ??= issue.message;
    }
    if (Object.keys(errors).length || !parsed.success) return { ok: false, errors };
    const spec = parsed.data;
    if (this.specs.some((s) => s.name === spec.name)) return { ok: false, errors: { name: `There is already a target named "${spec.name}".` } };
    if (secret !== undefined) {
      try {
        await this.opts.secrets.set(targetSecretName(spec), secret);
      } catch (error) {
        return { ok: false, errors: { secret: error instanceof EngineError ? error.message : describeError(error) } };
      }
    } else await this.opts.secrets.delete(targetSecretName(spec)).catch(() => {});
    this.specs = [...this.specs, spec];
    await this.saveTargets();
    this.opts.log.info(`off-site target "${spec.name}" added: ${describeTarget(spec)}`);
    const test = await this.test(spec.name);
    this.opts.onChange();
    return { ok: true, target: await this.info(spec), test };
  }

  /** Connects to a target and checks it can write there (an SFTP host key seen for the first time is pinned). */
  async test(name: string): Promise<{ ok: boolean; message: string }> {
    const spec = this.spec(name);
    let pinned = '';
    const target = openTarget(await this.withSecret(spec), this.context((message) => (pinned = ` ${message}`)));
    try {
      return { ok: true, message: `${await target.test()}${pinned}` };
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      return { ok: false, message: error.message };
    } finally {
      await target.close();
    }
  }

  /** Forgets a target, its secret and its copy records; the copies on it stay there. */
  async remove(name: string): Promise<boolean> {
    const spec = this.specs.find((s) => s.name === name);
    if (!spec) return false;
    this.specs = this.specs.filter((s) => s !== spec);
    await this.saveTargets();
    await this.opts.secrets.delete(targetSecretName(spec));
    this.records = this.records.filter((r) => r.target !== name);
    await this.saveRecords();
    this.opts.log.info(`off-site target "${name}" removed (its copies are left on it)`);
    this.opts.onChange();
    return true;
  }

  /** Queues a copy of a local backup to one target or every enabled one; refused when there is none. */
  enqueue(backupPath: string, target: string | null = null): { queued: true } | { queued: false; reason: string } {
    if (target !== null) this.spec(target);
    else if (!this.specs.some((s) => s.enabled)) return { queued: false, reason: 'No off-site target is enabled: add one in Settings.' };
    this.queue.push({ backupPath, backupName: path.basename(backupPath), target });
    this.draining ??= this.drain().finally(() => (this.draining = null));
    this.opts.onChange();
    return { queued: true };
  }

  /** Resolves when every queued copy has ended and its record is saved. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
    await this.writes.settled();
  }

  copyStates(backupNames: readonly string[]): Record<string, Record<string, CopyStateView>> {
    const states: Record<string, Record<string, CopyStateView>> = {};
    for (const name of backupNames) {
      const row: Record<string, CopyStateView> = {};
      for (const spec of this.specs) {
        const queued = this.queue.some((q) => q.backupName === name && (q.target === null ? spec.enabled : q.target === spec.name));
        const record = this.records.find((r) => r.target === spec.name && r.backupName === name);
        if (this.copying?.target === spec.name && this.copying.backupName === name) row[spec.name] = { state: 'copying' };
        else if (queued) row[spec.name] = { state: 'queued' };
        else if (record) row[spec.name] = record.ok ? { state: 'copied', at: record.at } : { state: 'failed', at: record.at, error: record.error };
      }
      states[name] = row;
    }
    return states;
  }

  async listBackupsOn(name: string): Promise<{ ok: true; backups: BackupSummary[] } | { ok: false; error: string }> {
    const target = openTarget(await this.withSecret(this.spec(name)), this.context());
    try {
      return { ok: true, backups: (await listTargetBackups(target)).map(({ files: _files, ...summary }) => summary) };
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      return { ok: false, error: error.message };
    } finally {
      await target.close();
    }
  }

  /**
   * Fetches a backup from a target into `<backupDir>/.offsite-download/<name>`, every file checked against
   * its manifest. One fetched whole earlier (a restore of it that failed) is used as it is: the restore
   * checks every byte again.
   */
  async download(name: string, backupName: string, backupDir: string): Promise<{ ok: true; path: string } | { ok: false; error: string }> {
    const intoDir = path.join(backupDir, DOWNLOAD_DIR);
    const finalDir = path.join(intoDir, backupName);
    if (existsSync(path.join(finalDir, 'manifest.json'))) return { ok: true, path: finalDir };
    try {
      // In the job worker: every byte fetched is hashed.
      const local = await runJobInWorker(
        'download',
        { spec: await this.withSecret(this.spec(name)), knownHostsFile: this.knownHosts.file, name: backupName, intoDir },
        {
          signal: this.abort.signal,
          onProgress: (event) => (event.type === 'progress' ? this.opts.onProgress({ target: name, backupName, progress: event.progress }) : this.opts.log.info(event.message)),
        },
      );
      this.opts.log.info(`downloaded ${backupName} from off-site target "${name}" into ${local}`);
      return { ok: true, path: local };
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      this.opts.log.error(`download of ${backupName} from "${name}" failed: ${error.message}`);
      return { ok: false, error: error.message };
    }
  }

  /** Removes a downloaded backup once it has been restored (`backupPath` anywhere else is left alone). */
  async discardDownload(backupPath: string, backupDir: string): Promise<void> {
    if (path.dirname(path.resolve(backupPath)) === path.join(path.resolve(backupDir), DOWNLOAD_DIR)) await rm(backupPath, { recursive: true, force: true });
  }

  /** Cancels the running copy (its unfinished folder on the target is continued next time) and waits for it. */
  async shutdown(): Promise<void> {
    this.queue.length = 0;
    this.abort.abort(new EngineError('The app is quitting.', 'CANCELLED'));
    await this.idle();
  }

  // ---- internals --------------------------------------------------------------------------------

  private spec(name: string): TargetSpec {
    const spec = this.specs.find((s) => s.name === name);
    if (!spec) throw new EngineError(`There is no off-site target named "${name}".`, 'BAD_TARGET');
    return spec;
  }

  private async info(spec: TargetSpec): Promise<TargetInfo> {
    const hasSecret = spec.type !== 'folder' && (await this.opts.secrets.get(targetSecretName(spec)).then((s) => s !== null, () => true));
    const hostKey = spec.type === 'sftp' ? (spec.hostKey ?? (await this.knownHosts.get(`${spec.host}:${spec.port}`).catch(() => null))) : null;
    return { spec, location: describeTarget(spec), hasSecret, hostKey, lastCopy: this.lastCopy(spec.name), newestCopy: this.newestCopy(spec.name) };
  }

  private lastCopy(target: string): CopyRecord | null {
    return this.records.filter((r) => r.target === target).reduce<CopyRecord | null>((a, b) => (a === null || b.at >= a.at ? b : a), null);
  }

  private newestCopy(target: string): { backupName: string; createdAt: string } | null {
    const newest = this.records.filter((r) => r.target === target && r.ok).reduce<CopyRecord | null>((a, b) => (a === null || b.backupName > a.backupName ? b : a), null);
    const createdAt = newest && timeFromFolderName(newest.backupName);
    return newest && createdAt ? { backupName: newest.backupName, createdAt: createdAt.toISOString() } : null;
  }

  /** The target's settings with its secret from the keychain, to open it with. */
  private async withSecret(spec: TargetSpec): Promise<TargetSpec> {
    if (spec.type === 'folder') return spec;
    const secret = await this.opts.secrets.get(targetSecretName(spec));
    if (secret === null) return spec;
    return spec.type === 's3' ? { ...spec, secretAccessKey: secret } : { ...spec, password: secret };
  }

  private context(onHostKeyPinned?: (message: string) => void): TargetContext {
    return {
      knownHosts: this.knownHosts,
      onHostKeyPinned: (message) => {
        this.opts.log.info(message);
        onHostKeyPinned?.(message);
      },
    };
  }

  private async drain(): Promise<void> {
    for (let job = this.queue.shift(); job; job = this.queue.shift()) {
      const specs = this.specs.filter((s) => (job!.target === null ? s.enabled : s.name === job!.target));
      try {
        await this.copyOne(job, specs);
      } catch (error) {
        if (this.abort.signal.aborted) {
          this.opts.log.warn(`copy of ${job.backupName} off-site cancelled; the next copy continues it`);
        } else {
          // The local backup itself cannot be copied: every target gets the reason.
          const message = error instanceof EngineError ? error.message : describeError(error);
          this.opts.log.error(`copy of ${job.backupName} off-site failed: ${message}`);
          for (const spec of specs) await this.record({ target: spec.name, backupName: job.backupName, at: this.opts.clock.now().toISOString(), ok: false, uploadedBytes: 0, error: message });
        }
      } finally {
        // Said done only once its records are on disk: a restart right after reads them back.
        await this.writes.settled();
        this.copying = null;
        this.opts.onChange();
      }
    }
  }

  /** In the job worker: reading and hashing the backup's files (SHA-256, MD5 for S3) never holds up this thread. */
  private async copyOne(job: QueuedCopy, specs: TargetSpec[]): Promise<void> {
    const opened = await Promise.all(specs.map((s) => this.withSecret(s)));
    await runJobInWorker(
      'copy',
      { backupPath: job.backupPath, specs: opened, knownHostsFile: this.knownHosts.file, now: this.opts.clock.now() },
      { signal: this.abort.signal, onProgress: (event) => this.onCopyEvent(job, event) },
    );
  }

  private onCopyEvent(job: QueuedCopy, event: CopyEvent): void {
    switch (event.type) {
      case 'targetStart':
        this.copying = { target: event.target, backupName: job.backupName };
        this.opts.onChange();
        return;
      case 'progress':
        return this.opts.onProgress({ target: event.target, backupName: job.backupName, progress: event.progress });
      case 'hostKeyPinned':
        return this.opts.log.info(event.message);
      case 'targetDone': {
        const { result } = event;
        const at = this.opts.clock.now().toISOString();
        if (result.ok) {
          this.opts.log.info(`copied ${job.backupName} to "${result.target}" (${result.alreadyThere ? 'already there' : `${result.uploadedBytes} bytes sent`})${result.pruned.length ? `; removed there by its retention: ${result.pruned.join(', ')}` : ''}`);
          for (const failure of result.pruneFailures) this.opts.log.warn(`retention on "${result.target}": ${failure}`);
          this.records = this.records.filter((r) => !(r.target === result.target && result.pruned.includes(r.backupName)));
        } else this.opts.log.error(`copy of ${job.backupName} to "${result.target}" failed: ${result.error}`);
        void this.record({ target: result.target, backupName: job.backupName, at, ok: result.ok, uploadedBytes: result.uploadedBytes, ...(result.error ? { error: result.error } : {}) });
      }
    }
  }

  private async record(record: CopyRecord): Promise<void> {
    this.records = [...this.records.filter((r) => !(r.target === record.target && r.backupName === record.backupName)), record].slice(-MAX_RECORDS);
    this.opts.onChange();
    await this.saveRecords().catch((error: unknown) => this.opts.log.error(`cannot save ${this.stateFile}:`, describeError(error)));
  }

  private async saveRecords(): Promise<void> {
    // The records as they are when this write's turn comes, so the last write holds every record.
    await this.writes.run(() => writeFileAtomic(this.stateFile, `${JSON.stringify({ version: 1, copies: this.records })}\n`));
  }

  private async saveTargets(): Promise<void> {
    await this.writes.run(() => writeFileAtomic(this.targetsFile, `${JSON.stringify({ targets: this.specs.map(withoutSecret) }, null, 2)}\n`));
  }
}

/** What targets.json holds of a target: never its secret. */
function withoutSecret(spec: TargetSpec): TargetSpec {
  if (spec.type === 's3') {
    const { secretAccessKey: _secret, ...rest } = spec;
    return rest;
  }
  if (spec.type === 'sftp') {
    const { password: _password, ...rest } = spec;
    return rest;
  }
  return spec;
}

const SHAPES = { folder: folderTargetSchema, s3: s3TargetSchema, sftp: sftpTargetSchema } as const;

/** What the schema alone does not say about a target entered in the window. */
function targetInputErrors(raw: unknown, secret: string | undefined): FieldErrors {
  const errors: FieldErrors = {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { type: 'A target is an object with a type: folder, s3 or sftp' };
  const input = raw as Record<string, unknown>;
  const shape = SHAPES[input.type as keyof typeof SHAPES];
  if (!shape) return { type: 'Choose folder, s3 or sftp' };
  for (const key of Object.keys(input)) if (!(key in shape.shape)) errors[key] = 'Unknown field';
  // Secrets travel apart, to the keychain, so that targets.json never holds one.
  if ('secretAccessKey' in input) errors.secretAccessKey = 'Give the secret access key as the secret, not in the target';
  if ('password' in input) errors.password = 'Give the password as the secret, not in the target';
  if (input.type === 'folder' && typeof input.path === 'string' && input.path && !path.isAbsolute(input.path)) errors.path = `"${input.path}" is not a full path; choose the folder again`;
  if (input.type === 's3') {
    if (secret !== undefined && !input.accessKeyId) errors.accessKeyId = 'Give the access key ID that goes with the secret access key';
    if (input.accessKeyId && secret === undefined) errors.secret = 'Give the secret access key that goes with the access key ID';
  }
  if (input.type === 'sftp') {
    if (typeof input.privateKeyFile === 'string' && input.privateKeyFile && !path.isAbsolute(input.privateKeyFile)) errors.privateKeyFile = 'Give the full path of the key file';
    if (!input.privateKeyFile && secret === undefined) errors.secret = 'Give a password or a private key file';
  }
  if (input.type === 'folder' && secret !== undefined) errors.secret = 'A folder target takes no secret';
  return errors;
}
