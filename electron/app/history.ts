import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { HistoryEntry, RunKind, RunTrigger } from '../../shared/api.js';
import { WriteQueue, writeFileAtomic } from './settings-store.js';

export const HISTORY_FILE = 'history.jsonl';
/** One line of the history file, as this app writes it; anything else read back is skipped, not trusted. */
const historyLine = z.object({
  id: z.string().min(1),
  kind: z.enum(['backup', 'restore', 'verify', 'prune']),
  trigger: z.enum(['manual', 'schedule', 'catch-up', 'cli']),
  startedAt: z.iso.datetime(),
  endedAt: z.iso.datetime().nullable(),
  result: z.enum(['running', 'success', 'failed', 'cancelled']),
  backupName: z.string().optional(),
  size: z.number().nonnegative().optional(),
  error: z.string().optional(),
}) satisfies z.ZodType<HistoryEntry>;

/** Runs kept; older ones are dropped when the file is compacted. */
const KEEP = 500;

/**
 * Runs in a JSON-lines file in the user-data folder. A run is written when it starts and again when it
 * ends (same id, last line wins), so a crash mid-run leaves a record that is reported as interrupted.
 */
export class History {
  readonly file: string;
  private entries: HistoryEntry[] = [];
  private lines = 0;
  /** Appends one after the other so lines never interleave. */
  private readonly writes = new WriteQueue();

  constructor(userDataDir: string) {
    this.file = path.join(userDataDir, HISTORY_FILE);
  }

  /** Reads the file; runs left "running" by an earlier process are marked failed. Lines cut short or of another shape are skipped. */
  async load(now = new Date()): Promise<void> {
    let text = '';
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`Cannot read the history file ${this.file}`, { cause: error });
    }
    const byId = new Map<string, HistoryEntry>();
    const lines = text.split('\n').filter((line) => line.trim());
    for (const line of lines) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue; // a line cut short by a crash
      }
      const checked = historyLine.safeParse(parsed);
      if (!checked.success) continue;
      const entry: HistoryEntry = checked.data;
      byId.delete(entry.id); // keep insertion order = order of the latest write
      byId.set(entry.id, entry);
    }
    this.lines = lines.length;
    this.entries = [...byId.values()].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    for (const entry of this.entries.filter((e) => e.result === 'running')) {
      await this.update({ ...entry, result: 'failed', endedAt: now.toISOString(), error: 'The app stopped while this run was in progress; nothing it wrote was kept as a complete backup.' });
    }
  }

  /** Newest first. */
  list(): HistoryEntry[] {
    return [...this.entries].reverse();
  }

  latest(kind: RunKind, predicate: (entry: HistoryEntry) => boolean = () => true): HistoryEntry | null {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i]!;
      if (entry.kind === kind && predicate(entry)) return entry;
    }
    return null;
  }

  async start(kind: RunKind, trigger: RunTrigger, now = new Date()): Promise<HistoryEntry> {
    const entry: HistoryEntry = { id: randomUUID(), kind, trigger, startedAt: now.toISOString(), endedAt: null, result: 'running' };
    await this.update(entry);
    return entry;
  }

  async update(entry: HistoryEntry): Promise<void> {
    const index = this.entries.findIndex((e) => e.id === entry.id);
    if (index >= 0) this.entries[index] = entry;
    else this.entries.push(entry);
    this.lines++;
    await this.writes.run(async () => {
      await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      await appendFile(this.file, `${JSON.stringify(entry)}\n`, { mode: 0o600 }); // names backups and paths: private, as the settings
    });
    if (this.lines > KEEP * 2) await this.compact();
  }

  private async compact(): Promise<void> {
    this.entries = this.entries.slice(-KEEP);
    this.lines = this.entries.length;
    const content = this.entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    await this.writes.run(() => writeFileAtomic(this.file, content));
  }
}
