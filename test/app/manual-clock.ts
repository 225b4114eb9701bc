import type { Clock } from '../../electron/app/scheduler.js';

/** A clock the test moves by hand: timers fire, in order, only when `advance` passes their time. */
export class ManualClock implements Clock {
  private timers: { at: number; fn: () => void; cancelled: boolean }[] = [];

  constructor(private current: Date) {}

  now(): Date {
    return new Date(this.current);
  }

  setTimer(at: Date, fn: () => void): { cancel(): void } {
    const timer = { at: at.getTime(), fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Moves time forward, firing due timers on the way (each at its own time). */
  async advance(ms: number): Promise<void> {
    const end = this.current.getTime() + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.cancelled = true;
      this.current = new Date(Math.max(due.at, this.current.getTime()));
      due.fn();
      await settle();
    }
    this.current = new Date(end);
    await settle();
  }

  /**
   * The computer sleeps for `ms`: the wall clock jumps, but the clock timers count on (Node's setTimeout,
   * under node-schedule too: libuv's monotonic clock) stood still, so every pending timer now fires `ms`
   * later than it was set for. Only a check on waking (Electron's powerMonitor 'resume') notices.
   */
  sleep(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
    for (const timer of this.timers) timer.at += ms;
  }

  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}

/** Lets promise chains started by a timer run to their end. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}
