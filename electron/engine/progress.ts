import type { Phase, Progress } from '../../shared/progress.js';

const EMIT_INTERVAL_MS = 100;

/** Progress events of one operation for the app and the CLI's bar: phase changes at once, byte counts at most every 100 ms. */
export interface ProgressReporter {
  /** A new phase starts from zero; set its totals with `totals`. */
  phase(phase: Phase, current?: string): void;
  /** The next phase of one count that runs across phases (a backup's). */
  enter(phase: Phase): void;
  totals(bytes: number, files: number): void;
  file(current: string): void;
  add(bytes: number, files?: number, current?: string): void;
  fileDone(): void;
  /** Passes on the events of an inner operation (a verify, a backup) as a phase of this one. */
  forward(p: Progress, phase: Phase): void;
  /** The last event: everything done. */
  done(current?: string): void;
}

export function progressReporter(
  operation: Progress['operation'],
  onProgress: ((p: Progress) => void) | undefined,
  initial: { phase: Phase; bytesTotal?: number; filesTotal?: number; startedAt?: Date },
): ProgressReporter {
  const state: Progress = {
    operation,
    phase: initial.phase,
    bytesDone: 0,
    bytesTotal: initial.bytesTotal ?? 0,
    filesDone: 0,
    filesTotal: initial.filesTotal ?? 0,
    startedAt: (initial.startedAt ?? new Date()).toISOString(),
    phaseStartedAt: (initial.startedAt ?? new Date()).toISOString(),
  };
  let last = 0;
  const emit = (force: boolean) => {
    const now = Date.now();
    if (!onProgress || (!force && now - last < EMIT_INTERVAL_MS)) return;
    last = now;
    // Counts may be fractional (scaled) or run past a total that vanished files made smaller.
    const cap = (done: number, total: number) => (total > 0 ? Math.min(done, total) : done);
    onProgress({ ...state, bytesDone: cap(Math.round(state.bytesDone), state.bytesTotal), filesDone: cap(state.filesDone, state.filesTotal) });
  };
  return {
    phase(phase, current) {
      Object.assign(state, { phase, current, bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0, phaseStartedAt: new Date().toISOString() });
      emit(true);
    },
    enter(phase) {
      state.phase = phase;
      emit(true);
    },
    totals(bytes, files) {
      Object.assign(state, { bytesTotal: bytes, filesTotal: files });
      emit(true);
    },
    file(current) {
      state.current = current;
      emit(true);
    },
    add(bytes, files = 0, current) {
      state.bytesDone += bytes;
      state.filesDone += files;
      if (current) state.current = current;
      emit(false);
    },
    fileDone() {
      state.filesDone++;
      emit(true);
    },
    forward(p, phase) {
      if (p.phase === 'done') return;
      if (state.phase !== phase) state.phaseStartedAt = new Date().toISOString();
      Object.assign(state, { phase, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, filesDone: p.filesDone, filesTotal: p.filesTotal, current: p.current });
      emit(false);
    },
    done(current) {
      // A phase without byte totals (swapping) still ends at 100%.
      const bytesTotal = state.bytesTotal || 1;
      const filesTotal = state.filesTotal || 1;
      Object.assign(state, { phase: 'done', current, bytesDone: bytesTotal, bytesTotal, filesDone: filesTotal, filesTotal });
      emit(true);
    },
  };
}
