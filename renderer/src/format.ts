import type { Progress } from '../../shared/progress.js';

import { countOf, formatBytes } from '../../shared/format.js';

export { countOf, formatBytes };

/** "just now" → "Just now", for a value that starts a line. */
export const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

/** A span of time in words: "45 s", "3 min 5 s", "2 h 10 min", "3 days". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return ms < 1000 && ms > 0 ? `${(ms / 1000).toFixed(1)} s` : `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return countOf(Math.floor(hours / 24), 'day');
}

/** How long ago: "just now", "5 minutes ago", "3 hours ago", "yesterday", "4 days ago". */
export function formatAge(iso: string, now: Date): string {
  const ms = now.getTime() - new Date(iso).getTime();
  if (!Number.isFinite(ms)) return 'unknown';
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${countOf(minutes, 'minute')} ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${countOf(hours, 'hour')} ago`;
  const days = Math.floor(hours / 24);
  return days === 1 ? 'yesterday' : `${days} days ago`;
}

/** When a future time comes: "in 5 minutes", "in 3 hours", "in 2 days". */
export function formatUntil(iso: string, now: Date): string {
  const minutes = Math.ceil((new Date(iso).getTime() - now.getTime()) / 60_000);
  if (!Number.isFinite(minutes)) return 'unknown';
  if (minutes <= 1) return 'in a moment';
  if (minutes < 60) return `in ${countOf(minutes, 'minute')}`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `in ${countOf(hours, 'hour')}`;
  return `in ${countOf(Math.round(hours / 24), 'day')}`;
}

/** "Tue, Nov 25, 16:50" — local date and time, short; the year only when it is not this year. */
export function formatDateTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return 'unknown time';
  return date.toLocaleString(undefined, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: date.getFullYear() === now.getFullYear() ? undefined : 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
}

/**
 * Time left, from the bytes done so far: "about 2 min left". Null while there is too little to go on
 * (the first second, or nothing done yet), so the window does not show a wildly wrong guess.
 */
export function formatEta(progress: Progress, now: Date): string | null {
  const elapsed = now.getTime() - new Date(countedSince(progress)).getTime();
  if (progress.bytesTotal <= 0 || progress.bytesDone <= 0 || elapsed < 1000) return null;
  if (progress.bytesDone >= progress.bytesTotal) return 'almost done';
  const remaining = (elapsed / progress.bytesDone) * (progress.bytesTotal - progress.bytesDone);
  return remaining < 5000 ? 'a few seconds left' : `about ${formatDuration(remaining)} left`;
}

/** When the byte counts started: the current phase's start when the engine says, else the operation's. */
const countedSince = (progress: Progress): string => progress.phaseStartedAt ?? progress.startedAt;

/** Bytes per second over what is counted so far: "45 MB/s". Null in the first second. */
export function formatSpeed(progress: Progress, now: Date): string | null {
  const elapsed = now.getTime() - new Date(countedSince(progress)).getTime();
  if (elapsed < 1000 || progress.bytesDone <= 0) return null;
  return `${formatBytes(Math.round((progress.bytesDone / elapsed) * 1000))}/s`;
}

/** How long the whole operation has run: "1 min 5 s". */
export const formatElapsed = (progress: Progress, now: Date): string => formatDuration(now.getTime() - new Date(progress.startedAt).getTime());

/** Fraction done, 0…1, from bytes (or files when the byte total is not known yet). */
export function progressFraction(progress: Progress): number {
  if (progress.bytesTotal > 0) return Math.min(1, progress.bytesDone / progress.bytesTotal);
  if (progress.filesTotal > 0) return Math.min(1, progress.filesDone / progress.filesTotal);
  return 0;
}

export { phaseLabel } from '../../shared/progress.js';
