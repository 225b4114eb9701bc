import { setTimeout as sleep } from 'node:timers/promises';

/**
 * An upload limit shared by everything one copy sends: `take(n)` resolves when sending n more bytes keeps
 * the average since the start at or under the rate (at most one second's worth may go at once).
 */
export class BandwidthLimit {
  private readonly started = performance.now();
  private sent = 0;

  constructor(readonly bytesPerSecond: number) {}

  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    this.sent += bytes;
    const due = this.started + ((this.sent - this.bytesPerSecond) / this.bytesPerSecond) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait, undefined, { signal });
  }
}

export const bandwidthLimit = (kibPerSecond: number | undefined) => (kibPerSecond ? new BandwidthLimit(kibPerSecond * 1024) : null);
