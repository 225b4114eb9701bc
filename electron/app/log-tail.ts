import { open } from 'node:fs/promises';
import type { LogLevel, LogLines } from '../../shared/api.js';

/** How much of the end of the log file is read: enough for the last 2000 lines of ordinary length. */
const TAIL_BYTES = 512 * 1024;
const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2 };

/** electron-log's default line: `[2026-11-29 14:56:53.123] [error] message`. */
const LEVEL = /^\[[^\]]*\] \[(\w+)\]/;

/**
 * The last `count` lines of the log file, of `level` and more severe when given. A line without a level
 * (the rest of a multi-line message) belongs to the line before it.
 */
export async function readLogTail(file: string, count: number, level?: LogLevel): Promise<LogLines> {
  let text = '';
  let more = false;
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const start = Math.max(0, size - TAIL_BYTES);
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      text = buffer.toString('utf8');
      // Reading from the middle of the file: its first line is cut, and older lines exist.
      if (start > 0) {
        text = text.slice(text.indexOf('\n') + 1);
        more = true;
      }
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const lines: LogLines['lines'] = [];
  for (const text_ of text.split('\n')) {
    if (!text_) continue;
    const found = LEVEL.exec(text_)?.[1]?.toLowerCase();
    const lineLevel = found === 'error' || found === 'warn' || found === 'info' ? found : found ? 'other' : null;
    if (lineLevel === null && lines.length > 0) lines[lines.length - 1]!.text += `\n${text_}`;
    else lines.push({ level: lineLevel ?? 'other', text: text_ });
  }
  const wanted = level ? lines.filter((l) => l.level !== 'other' && RANK[l.level] <= RANK[level]) : lines;
  return { path: file, lines: wanted.slice(-count), more: more || wanted.length > count };
}
