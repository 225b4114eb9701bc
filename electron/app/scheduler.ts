import schedule from 'node-schedule';
import type { Settings } from '../../shared/settings.js';

export type ScheduleSettings = Settings['schedule'];
export type ScheduledTrigger = 'schedule' | 'catch-up';

/** Time and timers, injectable so tests can move time by hand. */
export interface Clock {
  now(): Date;
  /** Calls `fn` at `at` (at once when `at` has passed). */
  setTimer(at: Date, fn: () => void): { cancel(): void };
}

export const systemClock: Clock = {
  now: () => new Date(),
  setTimer(at, fn) {
    // node-schedule keeps long timers exact (plain setTimeout overflows after 24.8 days) but ignores past dates.
    if (at.getTime() <= Date.now()) {
      const timer = setTimeout(fn, 0);
      return { cancel: () => clearTimeout(timer) };
    }
    const job = schedule.scheduleJob(at, fn);
    return { cancel: () => job?.cancel() };
  },
};

const HOUR = 3_600_000;

/** The most recent daily HH:MM at or before `now`, local time. */
function previousDaily(dailyAt: string, now: Date): Date {
  const [hours, minutes] = dailyAt.split(':').map(Number) as [number, number];
  const at = new Date(now);
  at.setHours(hours, minutes, 0, 0);
  if (at > now) at.setDate(at.getDate() - 1);
  return at;
}

/** A due time reached within this long counts as on time; later it is a catch-up. */
const ON_TIME_MS = 2 * 60_000;

/**
 * When the next scheduled backup is due. `lastAttemptAt` is the start of the last backup, whoever made it
 * (null: never; then `since`, when scheduling began, counts instead). A due time that passed without a
 * backup (asleep, app closed) makes a catch-up, due now — as systemd's `Persistent=true` does. Pure.
 */
export function nextDue(
  settings: ScheduleSettings,
  lastAttemptAt: Date | null,
  now: Date,
  since: Date,
): { at: Date; trigger: ScheduledTrigger } {
  const reference = lastAttemptAt ?? since;
  let missed: Date | null;
  let next: Date;
  if (settings.mode === 'daily') {
    const previous = previousDaily(settings.dailyAt, now);
    missed = reference < previous ? previous : null;
    next = new Date(previous);
    next.setDate(next.getDate() + 1);
  } else {
    next = new Date(reference.getTime() + settings.intervalHours * HOUR);
    missed = next <= now ? next : null;
  }
  if (!missed) return { at: next, trigger: 'schedule' };
  return { at: now, trigger: now.getTime() - missed.getTime() <= ON_TIME_MS ? 'schedule' : 'catch-up' };
}

export interface SchedulerOptions {
  clock: Clock;
  /** Start of the last backup (app or CLI), or null when there never was one. */
  lastAttemptAt(): Date | null;
  /** Runs a scheduled backup; resolves 'busy' when another backup (this app or the CLI) holds the backup folder. */
  run(trigger: ScheduledTrigger): Promise<'done' | 'busy'>;
  /** A catch-up waits this long after start or wake, so the machine can settle (network drives, disks). */
  catchUpDelayMs?: number;
  /** `run` should report its own failures; anything it throws ends up here. */
  onError?(error: unknown): void;
  /** After 'busy', try again this much later. */
  busyRetryMs?: number;
}

/**
 * Runs backups on the schedule from settings: every N hours or daily at HH:MM. One timer for the next due
 * time; `check()` (called after wake and periodically) recomputes it, so a timer that slept through its time
 * still leads to a run. Never starts a run while one it started is in progress.
 */
export class Scheduler {
  private settings: ScheduleSettings | null = null;
  private paused = false;
  private timer: { cancel(): void } | null = null;
  private planned: { at: Date; trigger: ScheduledTrigger } | null = null;
  private running = false;
  private retryAt: Date | null = null;
  private lastFiredAt: Date | null = null;
  private since: Date;
  private settleFrom: Date;

  constructor(private readonly opts: SchedulerOptions) {
    this.since = opts.clock.now();
    this.settleFrom = this.since;
  }

  /** The computer woke up: timers may have slept through their time, so look again (after settling). */
  resumed(): void {
    this.settleFrom = this.opts.clock.now();
    this.check();
  }

  configure(settings: ScheduleSettings, paused: boolean): void {
    // Just switched on: count from now, not from when the app started.
    if (settings.enabled && !this.settings?.enabled) this.since = this.opts.clock.now();
    this.settings = settings;
    this.paused = paused;
    this.retryAt = null;
    this.check();
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    this.check();
  }

  isPaused(): boolean {
    return this.paused;
  }

  /** The next run, or null when the schedule is off or paused. */
  nextRunAt(): Date | null {
    return this.planned?.at ?? null;
  }

  /** Recomputes the next run and sets its timer; runs at once when it is due. */
  check(): void {
    this.timer?.cancel();
    this.timer = null;
    this.planned = null;
    if (!this.settings?.enabled || this.paused || this.running) return;
    const now = this.opts.clock.now();
    const last = latest(this.opts.lastAttemptAt(), this.lastFiredAt);
    let planned = nextDue(this.settings, last, now, this.since);
    if (planned.trigger === 'catch-up') {
      const settleUntil = new Date(Math.max(this.settleFrom.getTime() + (this.opts.catchUpDelayMs ?? 60_000), now.getTime()));
      planned = { at: settleUntil, trigger: 'catch-up' };
    }
    if (this.retryAt && this.retryAt > planned.at) planned = { at: this.retryAt, trigger: planned.trigger };
    this.planned = planned;
    if (planned.at <= now) void this.fire(planned.trigger);
    else this.timer = this.opts.clock.setTimer(planned.at, () => this.check());
  }

  stop(): void {
    this.settings = null;
    this.check();
  }

  private async fire(trigger: ScheduledTrigger): Promise<void> {
    this.running = true;
    this.planned = null;
    this.lastFiredAt = this.opts.clock.now();
    let outcome: 'done' | 'busy' = 'done';
    try {
      outcome = await this.opts.run(trigger);
    } catch (error) {
      this.opts.onError?.(error);
    } finally {
      this.running = false;
      // Busy: the other backup counts as this slot's attempt only once it shows up; look again later.
      if (outcome === 'busy') this.lastFiredAt = null;
      this.retryAt = outcome === 'busy' ? new Date(this.opts.clock.now().getTime() + (this.opts.busyRetryMs ?? 10 * 60_000)) : null;
      this.check();
    }
  }
}

function latest(a: Date | null, b: Date | null): Date | null {
  if (!a) return b;
  if (!b) return a;
  return a > b ? a : b;
}
