import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, statfs } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type {
  ApiEvents,
  AppStatus,
  BackupSummary,
  ConfigQuestion,
  DecryptionInput,
  EncryptionState,
  HistoryEntry,
  InspectResult,
  RestoreOutcome,
  RestoreResult,
  RunningJob,
  RunTrigger,
  VerifyReport,
} from '../../shared/api.js';
import type { Component } from '../../shared/components.js';
import type { Progress } from '../../shared/progress.js';
import type { Settings } from '../../shared/settings.js';
import { forApp } from '../../shared/advice.js';
import { generateKeyPair } from '../engine/crypto/index.js';
import { EngineError } from '../engine/errors.js';
import { inspectBackup } from '../engine/inspect.js';
import { listBackups } from '../engine/list.js';
import { acquireBackupLock } from '../engine/lock.js';
import { verifyBackup } from '../engine/verify.js';
import { History } from './history.js';
import { runJobInWorker } from './job-runner.js';
import { describeError, type Logger } from './log.js';
import { Offsite } from './offsite.js';
import { decryptionKeys, encryptionKeys, encryptionMode, keepIdentity, keptIdentitiesFile, PASSPHRASE_SECRET, writeIdentityFile } from './encryption.js';
import { decideNotifications, initialMemory, type PolicyMemory } from './notification-policy.js';
import type { Platform } from './platform.js';
import { headlessSecretStore, type SecretStore } from './secret-store.js';
import { Scheduler, systemClock, type Clock, type ScheduledTrigger } from './scheduler.js';
import { SettingsStore, writeFileAtomic } from './settings-store.js';
import { trayModel } from './tray-model.js';

export interface ControllerOptions {
  userDataDir: string;
  platform: Platform;
  log: Logger;
  /** The log file the user can open. */
  logPath: string;
  clock?: Clock;
  /** Relative paths in settings are taken from here (default: the working directory). */
  baseDir?: string;
  /** How often free space, staleness and the schedule are looked at again. */
  checkEveryMs?: number;
  catchUpDelayMs?: number;
  /** Where passwords and keys are kept (the OS keychain in the desktop app); default: headlessSecretStore. */
  secrets?: SecretStore;
}

/** The API's events as an EventEmitter map. */
export type ApiEventMap = { [E in keyof ApiEvents]: [ApiEvents[E]] };

type StartResult = { started: true; done: Promise<HistoryEntry> } | { started: false; reason: string; busy: boolean };

interface Job extends RunningJob {
  abort: AbortController;
  progress: Progress | null;
  done: Promise<unknown>;
}

const STATE_FILE = 'state.json';
/** What state.json holds (written by setPaused); a file of another shape counts as not paused. */
const savedState = z.object({ paused: z.boolean() });

/**
 * The app's brain, shared by the Electron main process and `aurora-backup serve`: owns the settings, the
 * schedule, the history and the one running job (backup or restore), and emits `progress`, `status` and
 * `navigate` events. Knows nothing of Electron: what only the desktop can do goes through `Platform`.
 */
export class Controller extends EventEmitter<ApiEventMap> {
  readonly history: History;
  /** Passwords and keys: never in settings.json or targets.json, never sent to the window. */
  readonly secrets: SecretStore;
  /** Off-site targets and the copies to them. */
  readonly offsite: Offsite;
  private readonly store: SettingsStore;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private settings!: Settings;
  private job: Job | null = null;
  private lastBackup: BackupSummary | null = null;
  private backupDirProblem: string | null = null;
  private lastRestore: RestoreOutcome | null = null;
  private freeSpace: AppStatus['freeSpace'] = null;
  private memory: PolicyMemory | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private lastTrayPercent = -1;
  /** The running restore's open question, and how to answer it. */
  private question: { asked: ConfigQuestion; answer: (choice: 'overwrite' | 'keep' | undefined) => void } | null = null;

  constructor(private readonly opts: ControllerOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.store = new SettingsStore(opts.userDataDir);
    this.history = new History(opts.userDataDir);
    this.secrets = opts.secrets ?? headlessSecretStore();
    this.offsite = new Offsite({
      userDataDir: opts.userDataDir,
      secrets: this.secrets,
      log: opts.log,
      clock: this.clock,
      onChange: () => this.settings && this.publish(),
      onProgress: (event) => this.emit('offsiteProgress', event),
    });
    this.scheduler = new Scheduler({
      clock: this.clock,
      lastAttemptAt: () => this.lastAttemptAt(),
      run: (trigger) => this.runScheduled(trigger),
      onError: (error) => opts.log.error('scheduled backup:', describeError(error)),
      catchUpDelayMs: opts.catchUpDelayMs,
    });
  }

  /** Loads settings, history and the backup folder's state, then starts the schedule. */
  async start(): Promise<void> {
    const loaded = await this.store.load(this.clock.now());
    this.settings = loaded.settings;
    if (loaded.problem) {
      this.opts.log.error(loaded.problem);
      this.opts.platform.showNotification({ condition: 'settings', title: 'Settings were reset', body: loaded.problem, view: 'settings' });
    }
    await this.history.load(this.clock.now());
    const targetsProblem = await this.offsite.load();
    if (targetsProblem) {
      this.opts.log.error(targetsProblem);
      this.opts.platform.showNotification({ condition: 'targets', title: 'Off-site targets cannot be read', body: targetsProblem, view: 'settings' });
    }
    await this.refresh();
    this.memory = initialMemory(this.getStatus());
    this.scheduler.configure(this.settings.schedule, await this.loadPaused());
    this.opts.platform.setLaunchAtLogin(this.settings.launchAtLogin);
    if (this.opts.checkEveryMs !== 0) {
      this.ticker = setInterval(() => this.tick().catch((error: unknown) => this.opts.log.error('periodic check:', describeError(error))), this.opts.checkEveryMs ?? 5 * 60_000);
      this.ticker.unref();
    }
    this.publish();
  }

  /** Periodic look: free space, staleness, a schedule whose timer slept through its time. */
  async tick(): Promise<void> {
    await this.refresh();
    this.scheduler.check();
    this.publish();
  }

  /** The computer woke from sleep. */
  resumed(): void {
    this.scheduler.resumed();
    this.publish();
  }

  /** The settings with every path made absolute, as the renderer shows and sends them back. */
  getSettings(): Settings {
    const s = this.settings;
    return { ...s, dataDir: this.dataDir, backupDir: this.backupDir, envFile: s.envFile ? this.resolve(s.envFile) : '' };
  }

  /** Resolves relative paths from settings (the defaults `./data`, `./backups`). */
  resolve(p: string): string {
    return path.resolve(this.opts.baseDir ?? process.cwd(), p);
  }

  get backupDir(): string {
    return this.resolve(this.settings.backupDir);
  }

  get dataDir(): string {
    return this.resolve(this.settings.dataDir);
  }

  get logPath(): string {
    return this.opts.logPath;
  }

  get platform(): Platform {
    return this.opts.platform;
  }

  /** Saves already validated settings and applies them. */
  async updateSettings(settings: Settings): Promise<void> {
    await this.store.save(settings);
    const launchChanged = settings.launchAtLogin !== this.settings.launchAtLogin;
    this.settings = settings;
    if (launchChanged) this.opts.platform.setLaunchAtLogin(settings.launchAtLogin);
    this.scheduler.configure(settings.schedule, this.scheduler.isPaused());
    await this.refresh();
    this.publish();
  }

  async setPaused(paused: boolean): Promise<AppStatus> {
    this.scheduler.setPaused(paused);
    await writeFileAtomic(path.join(this.opts.userDataDir, STATE_FILE), JSON.stringify({ paused }));
    this.publish();
    return this.getStatus();
  }

  /** The status after a fresh look at the backup folder: a window that opens (or reloads) sees what is there now. */
  async currentStatus(): Promise<AppStatus> {
    const before = JSON.stringify(this.getStatus());
    await this.refresh();
    if (JSON.stringify(this.getStatus()) !== before) this.publish();
    return this.getStatus();
  }

  getStatus(): AppStatus {
    const lastRun = this.history.latest('backup');
    const staleHours = this.settings.notifications.staleHours;
    const lastAt = this.lastBackup ? new Date(this.lastBackup.createdAt).getTime() : null;
    // A failure counts until a newer complete backup exists, whoever made it (this app or the CLI).
    const failed = lastRun?.result === 'failed' && (lastAt === null || lastAt < Date.parse(lastRun.startedAt));
    const state: AppStatus['state'] = this.job
      ? 'running'
      : failed
        ? 'failed'
        : lastAt === null || this.clock.now().getTime() - lastAt > staleHours * 3_600_000
          ? 'stale'
          : 'idle';
    const job = this.job;
    return {
      state,
      job: job ? { kind: job.kind, startedAt: job.startedAt, backupPath: job.backupPath, components: job.components } : null,
      running: job?.progress ?? null,
      lastRestore: this.lastRestore,
      backupDirProblem: this.backupDirProblem,
      lastBackup: this.lastBackup ? { name: this.lastBackup.name, createdAt: this.lastBackup.createdAt, size: this.lastBackup.size } : null,
      lastRun: latestOf(lastRun, this.history.latest('restore')),
      lastRestoreRun: this.history.latest('restore'),
      nextRunAt: this.scheduler.nextRunAt()?.toISOString() ?? null,
      paused: this.scheduler.isPaused(),
      scheduleEnabled: this.settings.schedule.enabled,
      freeSpace: this.freeSpace,
      staleHours,
      offsite: this.offsite.status(),
      encryption: this.settings.encryption,
      configQuestion: this.question?.asked ?? null,
    };
  }

  /** The user's answer to the running restore's configuration question; false when none is open. */
  answerConfigQuestion(choice: 'overwrite' | 'keep'): boolean {
    const open = this.question;
    if (!open) return false;
    this.question = null;
    open.answer(choice);
    this.publish();
    return true;
  }

  /** Holds the restore until the window answers (or the restore is cancelled: no answer, and the engine refuses). */
  private askConfig(question: unknown): Promise<'overwrite' | 'keep' | undefined> {
    const asked = question as ConfigQuestion;
    return new Promise((resolve) => {
      this.question = { asked: { target: asked.target, differences: asked.differences.map(({ name, now, backup }) => ({ name, now, backup })) }, answer: resolve };
      this.opts.log.info(`restore: ${asked.target} belongs to another PDS; asking whether to replace it`);
      this.publish();
    });
  }

  /** Settings → Encryption: the mode and public keys, whether the keychain holds the passphrase, where kept identities are. */
  async getEncryption(): Promise<EncryptionState> {
    const encryption = this.settings.encryption;
    const mode = encryptionMode(encryption);
    return {
      mode,
      recipients: encryption.recipients,
      passphraseRemembered: mode === 'passphrase' && (await this.secrets.get(PASSPHRASE_SECRET).catch(() => null)) !== null,
      keptIdentities: await keptIdentitiesFile(this.opts.userDataDir),
    };
  }

  /**
   * Encrypt backups to `recipients`, with `passphrase` (kept in the keychain first: if it cannot be kept,
   * nothing changes), or not at all. A passphrase no longer used is removed from the keychain.
   */
  async setEncryption(choice: { mode: 'off' } | { mode: 'recipients'; recipients: string[] } | { mode: 'passphrase'; passphrase: string }): Promise<EncryptionState> {
    if (choice.mode === 'passphrase') await this.secrets.set(PASSPHRASE_SECRET, choice.passphrase);
    else await this.secrets.delete(PASSPHRASE_SECRET);
    const encryption = { recipients: choice.mode === 'recipients' ? choice.recipients : [], passphrase: choice.mode === 'passphrase' };
    await this.updateSettings({ ...this.settings, encryption });
    this.opts.log.info(`encryption: ${choice.mode === 'recipients' ? `to ${choice.recipients.join(', ')}` : choice.mode}`);
    return this.getEncryption();
  }

  /**
   * A new key pair: the identity goes to `identityFile` (never over an existing file) and, only when asked,
   * to the app's kept identities; backups are then encrypted to its public key.
   */
  async generateEncryptionKey(identityFile: string, keepCopy: boolean): Promise<{ recipient: string; state: EncryptionState }> {
    const pair = await generateKeyPair();
    const now = this.clock.now();
    await writeIdentityFile(identityFile, pair, now);
    if (keepCopy) await keepIdentity(this.opts.userDataDir, pair, now);
    this.opts.log.info(`encryption: new key pair ${pair.recipient}, identity saved to ${identityFile}${keepCopy ? ' and kept in the app folder' : ''}`);
    return { recipient: pair.recipient, state: await this.setEncryption({ mode: 'recipients', recipients: [pair.recipient] }) };
  }

  /** What is running now (main.ts asks before quitting). */
  runningJob(): Job['kind'] | null {
    return this.job?.kind ?? null;
  }

  /**
   * Starts a backup in the background. Refused while this app runs a backup or restore, and while another
   * process (the CLI) holds the backup folder's lock — then `busy` is true.
   */
  async startBackup(trigger: RunTrigger = 'manual'): Promise<StartResult> {
    if (this.job) return { started: false, busy: true, reason: `A ${this.job.kind} is already running in this app.` };
    const backupDir = this.backupDir;
    const holder = await this.probeLock(backupDir);
    if (holder) return { started: false, busy: true, reason: holder };
    // Checked again: another start may have begun while the lock was probed.
    if (this.job) return { started: false, busy: true, reason: `A ${(this.job as Job).kind} is already running in this app.` };
    const abort = new AbortController();
    const job: Job = { kind: 'backup', startedAt: this.clock.now().toISOString(), abort, progress: null, done: Promise.resolve() };
    this.job = job;
    const done = this.runBackupJob(job, trigger);
    job.done = done;
    return { started: true, done };
  }

  /** Refused once a restore has begun to swap the data in: from there it must run to its end. */
  cancel(): { cancelled: boolean } {
    if (!this.job) return { cancelled: false };
    if (this.job.kind === 'restore' && !restoreCancellable(this.job.progress)) return { cancelled: false };
    this.question?.answer(undefined);
    this.question = null;
    this.job.abort.abort(new EngineError('Cancelled by the user.', 'CANCELLED'));
    return { cancelled: true };
  }

  async listBackups(): Promise<BackupSummary[]> {
    if (!existsSync(this.backupDir)) return [];
    return listBackups(this.backupDir);
  }

  /** A deep verification of an encrypted backup needs its key, as a restore does (given the same ways). */
  async verify(backupPath: string, deep: boolean, decryption?: DecryptionInput): Promise<VerifyReport> {
    const keys = decryption ? await decryptionKeys(decryption, this.secrets, this.opts.userDataDir) : undefined;
    return verifyBackup(backupPath, { deep, ...(keys && { decryption: keys }), onProgress: (p: Progress) => this.emit('progress', p) });
  }

  async inspect(backupPath: string): Promise<InspectResult> {
    return inspectBackup(backupPath);
  }

  /** Restores components of a backup into the data directory; the PDS commands and health URL come from settings. */
  async restore(backupPath: string, components: Component[], decryption?: DecryptionInput, secrets = false): Promise<{ ok: true; result: RestoreResult } | { ok: false; error: string }> {
    if (this.job) return { ok: false, error: `A ${this.job.kind} is running; wait for it to finish or cancel it first.` };
    let keys;
    let preRestoreEncryption;
    try {
      keys = decryption ? await decryptionKeys(decryption, this.secrets, this.opts.userDataDir) : undefined;
      // The data the restore replaces is backed up encrypted as the backups are: it holds the same keys and accounts.
      preRestoreEncryption = await encryptionKeys(this.settings.encryption, this.secrets);
    } catch (error) {
      return { ok: false, error: userMessage(error) };
    }
    const abort = new AbortController();
    const job: Job = { kind: 'restore', startedAt: this.clock.now().toISOString(), backupPath, components, abort, progress: null, done: Promise.resolve() };
    this.job = job;
    let entry = await this.history.start('restore', 'manual', this.clock.now());
    entry = { ...entry, backupName: path.basename(backupPath) };
    this.lastRestore = { entry, backupPath, components, result: null, error: null };
    this.publish();
    const run = (async (): Promise<{ ok: true; result: RestoreResult } | { ok: false; error: string }> => {
      const s = this.settings;
      try {
        const result = await runJobInWorker(
          'restore',
          {
            backupPath,
            components,
            dataDir: this.dataDir,
            backupDir: this.backupDir,
            envFile: s.envFile ? this.resolve(s.envFile) : undefined,
            expectedPdsVersion: s.pds.version || undefined,
            healthUrl: s.pds.healthUrl || undefined,
            stopCommand: s.pds.stopCommand || undefined,
            startCommand: s.pds.startCommand || undefined,
            ...(keys && { decryption: keys }),
            ...(preRestoreEncryption && { preRestoreEncryption }),
            ...(secrets && { secrets }),
          },
          { signal: abort.signal, onProgress: (p: Progress) => this.onProgress(job, p), onQuestion: (q) => this.askConfig(q) },
        );
        const ended: HistoryEntry = { ...entry, endedAt: this.clock.now().toISOString(), result: 'success' };
        this.lastRestore = { entry: ended, backupPath, components, result, error: null };
        await this.history.update(ended);
        // A backup fetched from an off-site target for this restore has served its purpose.
        await this.offsite.discardDownload(backupPath, this.backupDir).catch((error: unknown) => this.opts.log.warn('cannot remove the downloaded backup:', describeError(error)));
        return { ok: true, result };
      } catch (error) {
        const message = userMessage(error);
        this.opts.log.error(`restore of ${backupPath} failed:`, describeError(error));
        const ended: HistoryEntry = { ...entry, endedAt: this.clock.now().toISOString(), result: abort.signal.aborted ? 'cancelled' : 'failed', error: message };
        this.lastRestore = { entry: ended, backupPath, components, result: null, error: message };
        await this.history.update(ended);
        return { ok: false, error: message };
      } finally {
        this.job = null;
        this.question = null;
        await this.refresh();
        this.publish();
      }
    })();
    job.done = run;
    return run;
  }

  /** Stops the schedule; a running job is cancelled and awaited, so nothing half-written looks complete. */
  async shutdown(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.scheduler.stop();
    const copies = this.offsite.shutdown();
    const job = this.job;
    if (job) {
      job.abort.abort(new EngineError('The app is quitting.', 'CANCELLED'));
      await job.done.catch(() => {});
    }
    await copies;
  }

  // ---- internals --------------------------------------------------------------------------------

  private async runScheduled(trigger: ScheduledTrigger): Promise<'done' | 'busy'> {
    const started = await this.startBackup(trigger);
    if (!started.started) {
      this.opts.log.warn(`scheduled backup postponed: ${started.reason}`);
      return 'busy';
    }
    await started.done;
    return 'done';
  }

  private async runBackupJob(job: Job, trigger: RunTrigger): Promise<HistoryEntry> {
    const s = this.settings;
    let entry = await this.history.start('backup', trigger, this.clock.now());
    let copyPath: string | null = null;
    this.publish();
    try {
      // Read here, from the keychain: a passphrase backup whose passphrase is gone fails rather than run unencrypted.
      const encryption = await encryptionKeys(s.encryption, this.secrets);
      // In a worker thread: the main thread only relays progress, whatever the engine does synchronously.
      const result = await runJobInWorker(
        'backup',
        {
          dataDir: this.dataDir,
          backupDir: this.backupDir,
          envFile: s.envFile ? this.resolve(s.envFile) : undefined,
          compression: s.compression,
          env: s.pds.version ? { ...process.env, PDS_VERSION: s.pds.version } : { ...process.env },
          healthUrl: s.pds.healthUrl || undefined,
          retention: { retainDays: s.retainDays, keepLast: s.keepLast },
          ...(encryption && { encryption }),
          kind: 'auto',
          fullEveryDays: s.fullEveryDays,
        },
        { signal: job.abort.signal, onProgress: (p: Progress) => this.onProgress(job, p) },
      );
      entry = { ...entry, endedAt: this.clock.now().toISOString(), result: 'success', backupName: result.name, size: result.size };
      this.opts.log.info(`backup ${result.name} done (${result.size} bytes, ${result.durationMs} ms)${result.pruned.length ? `; removed by retention: ${result.pruned.join(', ')}` : ''}`);
      // Such as why a backup that would have been incremental is full (encryption turned on, new keys).
      for (const warning of result.warnings ?? []) this.opts.log.warn(`backup ${result.name}: ${warning}`);
      // Off-site copies run beside the next backups, never holding them up; a target that is down fails its copy alone.
      copyPath = result.path;
    } catch (error) {
      const cancelled = job.abort.signal.aborted;
      entry = { ...entry, endedAt: this.clock.now().toISOString(), result: cancelled ? 'cancelled' : 'failed', error: userMessage(error) };
      if (cancelled) this.opts.log.warn('backup cancelled:', describeError(error));
      else this.opts.log.error('backup failed:', describeError(error));
    }
    await this.history.update(entry);
    this.job = null;
    await this.refresh();
    if (copyPath) this.offsite.enqueue(copyPath);
    this.publish();
    return entry;
  }

  private onProgress(job: Job, progress: Progress): void {
    job.progress = progress;
    this.emit('progress', progress);
    const percent = progress.bytesTotal > 0 ? Math.floor((progress.bytesDone / progress.bytesTotal) * 100) : 0;
    if (percent !== this.lastTrayPercent) {
      this.lastTrayPercent = percent;
      this.opts.platform.setTray(trayModel(this.getStatus(), this.clock.now()));
    }
  }

  /** Why the backup folder is taken by another process, or null when it is free. */
  private async probeLock(backupDir: string): Promise<string | null> {
    try {
      await mkdir(backupDir, { recursive: true });
      const lock = await acquireBackupLock(backupDir, 'desktop app check');
      await lock.release();
      return null;
    } catch (error) {
      if (error instanceof EngineError && error.code === 'LOCKED') return error.message;
      return null; // any other problem is reported by the backup itself, with its context
    }
  }

  private lastAttemptAt(): Date | null {
    const run = this.history.latest('backup', (e) => e.result !== 'cancelled');
    const times = [run?.startedAt, this.lastBackup?.createdAt].filter((t): t is string => !!t).map((t) => new Date(t));
    return times.length ? new Date(Math.max(...times.map((t) => t.getTime()))) : null;
  }

  private async loadPaused(): Promise<boolean> {
    try {
      return savedState.safeParse(JSON.parse(await readFile(path.join(this.opts.userDataDir, STATE_FILE), 'utf8'))).data?.paused === true;
    } catch {
      return false;
    }
  }

  /** Re-reads the newest complete backup and the backup volume's free space. */
  private async refresh(): Promise<void> {
    try {
      const backups = await this.listBackups();
      this.lastBackup = backups.find((b) => b.status === 'complete' && b.kind === 'backup') ?? null;
      this.backupDirProblem = null;
    } catch (error) {
      // What an unreadable folder held earlier cannot be counted on.
      this.lastBackup = null;
      this.backupDirProblem = userMessage(error);
      this.opts.log.warn(`cannot list backups in ${this.backupDir}:`, describeError(error));
    }
    this.freeSpace = await freeSpaceOf(this.backupDir);
  }

  /** Sends the status to the renderer and the tray, and shows the notifications it calls for. */
  private publish(): void {
    const status = this.getStatus();
    const now = this.clock.now();
    this.opts.platform.setTray(trayModel(status, now));
    this.emit('status', status);
    if (!this.memory) return;
    const decided = decideNotifications(this.memory, status, this.settings.notifications, now);
    this.memory = decided.memory;
    for (const notice of decided.notices) this.opts.platform.showNotification(notice);
  }
}

/** A restore can be cancelled, with nothing changed, until it starts to swap the data in. */
export function restoreCancellable(progress: Progress | null): boolean {
  return !progress || !['swapping', 'starting-pds', 'done'].includes(progress.phase);
}

function latestOf(a: HistoryEntry | null, b: HistoryEntry | null): HistoryEntry | null {
  if (!a || !b) return a ?? b;
  return a.startedAt >= b.startedAt ? a : b;
}

/** Free space on the volume that holds `dir` (or its nearest existing parent). */
async function freeSpaceOf(dir: string): Promise<AppStatus['freeSpace']> {
  let probe = dir;
  while (!existsSync(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe);
  try {
    const s = await statfs(probe);
    return { path: dir, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return null;
  }
}

/** The message a user sees: engine errors are written for them; anything else gets its cause chain. */
function userMessage(error: unknown): string {
  return forApp(error instanceof EngineError ? error.message : describeError(error));
}
