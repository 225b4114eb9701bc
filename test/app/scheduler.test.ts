import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../shared/settings.js';
import { nextDue, Scheduler, type ScheduleSettings, type ScheduledTrigger } from '../../electron/app/scheduler.js';
import { ManualClock, settle } from './manual-clock.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const daily: ScheduleSettings = { ...DEFAULT_SETTINGS.schedule, enabled: true, mode: 'daily', dailyAt: '02:00' };
const every6h: ScheduleSettings = { ...DEFAULT_SETTINGS.schedule, enabled: true, mode: 'interval', intervalHours: 6 };

/** A scheduler on a manual clock whose runs take `runMs` of (manual) time and record when they ran. */
function setup(start: Date, lastAttempt: Date | null, opts: { busy?: () => boolean } = {}) {
  const clock = new ManualClock(start);
  const runs: Array<{ at: Date; trigger: ScheduledTrigger }> = [];
  let last = lastAttempt;
  let finishRun: (() => void) | null = null;
  const scheduler = new Scheduler({
    clock,
    lastAttemptAt: () => last,
    catchUpDelayMs: MINUTE,
    busyRetryMs: 10 * MINUTE,
    run: async (trigger) => {
      if (opts.busy?.()) return 'busy';
      runs.push({ at: clock.now(), trigger });
      last = clock.now();
      await new Promise<void>((resolve) => (finishRun = resolve));
      return 'done';
    },
  });
  const finish = async () => {
    finishRun?.();
    finishRun = null;
    await settle();
  };
  return { clock, runs, scheduler, finish };
}

describe('nextDue (pure)', () => {
  const now = new Date(2025, 2, 22, 14, 30);
  it('daily: next 02:00 tomorrow when today\'s ran; catch-up now when it was missed', () => {
    expect(nextDue(daily, new Date(2025, 2, 22, 2, 0, 5), now, now)).toEqual({ at: new Date(2025, 2, 23, 2, 0), trigger: 'schedule' });
    expect(nextDue(daily, new Date(2025, 2, 20, 2, 0), now, now)).toEqual({ at: now, trigger: 'catch-up' });
  });
  it('interval: last attempt + N hours; overdue means catch-up now', () => {
    expect(nextDue(every6h, new Date(2025, 2, 22, 12, 0), now, now)).toEqual({ at: new Date(2025, 2, 22, 18, 0), trigger: 'schedule' });
    expect(nextDue(every6h, new Date(2025, 2, 22, 1, 0), now, now)).toEqual({ at: now, trigger: 'catch-up' });
  });
  it('never backed up: counts from when scheduling began, no catch-up at once', () => {
    expect(nextDue(daily, null, now, now)).toEqual({ at: new Date(2025, 2, 23, 2, 0), trigger: 'schedule' });
    expect(nextDue(every6h, null, now, now)).toEqual({ at: new Date(2025, 2, 22, 20, 30), trigger: 'schedule' });
  });
});

describe('Scheduler', () => {
  it('interval: runs every N hours after the last attempt', async () => {
    const { clock, runs, scheduler, finish } = setup(new Date(2025, 2, 22, 14, 0), new Date(2025, 2, 22, 13, 0));
    scheduler.configure(every6h, false);
    expect(scheduler.nextRunAt()).toEqual(new Date(2025, 2, 22, 19, 0));
    await clock.advance(5 * HOUR - 1);
    expect(runs).toEqual([]);
    await clock.advance(1);
    expect(runs).toEqual([{ at: new Date(2025, 2, 22, 19, 0), trigger: 'schedule' }]);
    await clock.advance(10 * MINUTE);
    await finish();
    expect(scheduler.nextRunAt()).toEqual(new Date(2025, 2, 23, 1, 0));
    await clock.advance(6 * HOUR);
    expect(runs.map((r) => r.at)).toEqual([new Date(2025, 2, 22, 19, 0), new Date(2025, 2, 23, 1, 0)]);
  });

  it('daily at 02:00: one run per day at that time', async () => {
    const { clock, runs, scheduler, finish } = setup(new Date(2025, 2, 22, 14, 30), new Date(2025, 2, 22, 2, 0));
    scheduler.configure(daily, false);
    expect(scheduler.nextRunAt()).toEqual(new Date(2025, 2, 23, 2, 0));
    for (let day = 0; day < 3; day++) {
      await clock.advance(24 * HOUR);
      await finish();
    }
    expect(runs).toEqual([
      { at: new Date(2025, 2, 23, 2, 0), trigger: 'schedule' },
      { at: new Date(2025, 2, 24, 2, 0), trigger: 'schedule' },
      { at: new Date(2025, 2, 25, 2, 0), trigger: 'schedule' },
    ]);
  });

  it('catch-up at start: a run missed while the app was closed runs once, shortly after start', async () => {
    const start = new Date(2025, 2, 22, 9, 0);
    const { clock, runs, scheduler, finish } = setup(start, new Date(2025, 2, 19, 2, 0)); // three 02:00s missed
    scheduler.configure(daily, false);
    expect(scheduler.nextRunAt()).toEqual(new Date(start.getTime() + MINUTE));
    await clock.advance(MINUTE);
    await finish();
    expect(runs).toEqual([{ at: new Date(start.getTime() + MINUTE), trigger: 'catch-up' }]);
    expect(scheduler.nextRunAt()).toEqual(new Date(2025, 2, 23, 2, 0));
  });

  it('catch-up after sleep: the timer slept through 02:00; waking up runs it, a minute later', async () => {
    const { clock, runs, scheduler } = setup(new Date(2025, 2, 22, 23, 0), new Date(2025, 2, 22, 2, 0));
    scheduler.configure(daily, false);
    clock.sleep(8 * HOUR); // 07:00; the 02:00 timer, which counted 3 hours of awake time, is now due at 10:00
    expect(runs).toEqual([]);
    scheduler.resumed();
    await clock.advance(MINUTE);
    expect(runs).toEqual([{ at: new Date(2025, 2, 23, 7, 1), trigger: 'catch-up' }]);
  });

  it('after sleep, without the wake-up call, the slept-through run would wait for the late timer', async () => {
    // What the wake-up check is for: the same night, with nobody calling resumed(), runs at 10:00.
    const { clock, runs, scheduler } = setup(new Date(2025, 2, 22, 23, 0), new Date(2025, 2, 22, 2, 0));
    scheduler.configure(daily, false);
    clock.sleep(8 * HOUR);
    await clock.advance(3 * HOUR - 1);
    expect(runs).toEqual([]);
    await clock.advance(1);
    expect(runs.map((r) => r.at)).toEqual([new Date(2025, 2, 23, 10, 0)]);
  });

  it('pause: nothing runs while paused; resuming catches up the missed run', async () => {
    const { clock, runs, scheduler } = setup(new Date(2025, 2, 22, 14, 0), new Date(2025, 2, 22, 13, 0));
    scheduler.configure(every6h, true);
    expect(scheduler.nextRunAt()).toBeNull();
    await clock.advance(24 * HOUR);
    expect(runs).toEqual([]);
    scheduler.setPaused(false);
    await clock.advance(MINUTE);
    expect(runs).toEqual([{ at: new Date(2025, 2, 23, 14, 0), trigger: 'catch-up' }]);
  });

  it('never two at once: a run still going when the next is due is not doubled', async () => {
    const { clock, runs, scheduler, finish } = setup(new Date(2025, 2, 22, 14, 0), new Date(2025, 2, 22, 13, 0));
    scheduler.configure({ ...every6h, intervalHours: 1 }, false);
    await clock.advance(HOUR);
    expect(runs).toHaveLength(1);
    await clock.advance(3 * HOUR); // the run takes 3 hours
    scheduler.check();
    scheduler.resumed();
    await clock.advance(MINUTE);
    expect(runs).toHaveLength(1);
    await finish();
    await clock.advance(HOUR);
    expect(runs).toHaveLength(2);
  });

  it('busy (another process holds the backup folder): tries again later instead of failing', async () => {
    let busy = true;
    const { clock, runs, scheduler } = setup(new Date(2025, 2, 22, 1, 59), new Date(2025, 2, 21, 2, 0), { busy: () => busy });
    scheduler.configure(daily, false);
    await clock.advance(MINUTE);
    expect(runs).toEqual([]);
    expect(scheduler.nextRunAt()).toEqual(new Date(2025, 2, 22, 2, 10));
    busy = false;
    await clock.advance(10 * MINUTE);
    expect(runs).toEqual([{ at: new Date(2025, 2, 22, 2, 10), trigger: 'catch-up' }]);
  });

  it('disabled schedule: no timer, no runs', async () => {
    const { clock, runs, scheduler } = setup(new Date(2025, 2, 22, 14, 0), null);
    scheduler.configure({ ...daily, enabled: false }, false);
    expect(scheduler.nextRunAt()).toBeNull();
    await clock.advance(72 * HOUR);
    expect(runs).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });
});
