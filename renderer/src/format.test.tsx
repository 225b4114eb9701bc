import { describe, expect, it } from 'vitest';
import type { Progress } from '../../shared/progress.js';
import { formatAge, formatBytes, formatDuration, formatEta, formatUntil, progressFraction } from './format.js';

const now = new Date('2026-03-22T14:30:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const progress = (over: Partial<Progress>): Progress => ({
  operation: 'backup',
  phase: 'archiving',
  bytesDone: 0,
  bytesTotal: 0,
  filesDone: 0,
  filesTotal: 0,
  startedAt: ago(10_000),
  ...over,
});

describe('formatBytes', () => {
  it('uses binary units with one decimal, dropping a trailing .0', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(1023)).toBe('1023 bytes');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5 MB');
    expect(formatBytes(123.4 * 1024 ** 3)).toBe('123 GB');
    expect(formatBytes(-1)).toBe('—');
  });
});

describe('formatDuration and ages', () => {
  it('says spans in the largest sensible units', () => {
    expect(formatDuration(450)).toBe('0.5 s');
    expect(formatDuration(45_000)).toBe('45 s');
    expect(formatDuration(185_000)).toBe('3 min 5 s');
    expect(formatDuration(2 * 3600_000 + 10 * 60_000)).toBe('2 h 10 min');
    expect(formatDuration(3 * 86400_000)).toBe('3 days');
  });

  it('says how long ago and how long until, in words', () => {
    expect(formatAge(ago(20_000), now)).toBe('just now');
    expect(formatAge(ago(60_000), now)).toBe('1 minute ago');
    expect(formatAge(ago(5 * 3600_000), now)).toBe('5 hours ago');
    expect(formatAge(ago(30 * 3600_000), now)).toBe('yesterday');
    expect(formatAge(ago(4 * 86400_000), now)).toBe('4 days ago');
    expect(formatUntil(ago(-30 * 60_000), now)).toBe('in 30 minutes');
    expect(formatUntil(ago(-5 * 3600_000), now)).toBe('in 5 hours');
  });
});

describe('formatEta', () => {
  it('extrapolates from the bytes done so far', () => {
    // 10 s for a quarter: 30 s to go.
    expect(formatEta(progress({ bytesDone: 25, bytesTotal: 100 }), now)).toBe('about 30 s left');
    expect(formatEta(progress({ bytesDone: 1, bytesTotal: 100, startedAt: ago(60_000) }), now)).toBe('about 1 h 39 min left');
    expect(formatEta(progress({ bytesDone: 99, bytesTotal: 100 }), now)).toBe('a few seconds left');
  });

  it('gives no guess before there is anything to go on', () => {
    expect(formatEta(progress({ bytesDone: 0, bytesTotal: 100 }), now)).toBeNull();
    expect(formatEta(progress({ bytesDone: 10, bytesTotal: 100, startedAt: ago(200) }), now)).toBeNull();
    expect(formatEta(progress({ bytesDone: 10, bytesTotal: 0 }), now)).toBeNull();
  });

  it('measures progress by bytes, or by files while the byte total is unknown', () => {
    expect(progressFraction(progress({ bytesDone: 30, bytesTotal: 120 }))).toBe(0.25);
    expect(progressFraction(progress({ filesDone: 1, filesTotal: 4 }))).toBe(0.25);
    expect(progressFraction(progress({}))).toBe(0);
  });
});
