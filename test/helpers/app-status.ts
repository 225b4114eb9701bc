import type { AppStatus } from '../../shared/api.js';

/** An idle app's status with nothing going on and no backup yet; tests override what they are about. */
export function appStatus(overrides: Partial<AppStatus>): AppStatus {
  return {
    state: 'idle',
    job: null,
    running: null,
    lastRestore: null,
    backupDirProblem: null,
    lastRestoreRun: null,
    lastBackup: null,
    lastRun: null,
    nextRunAt: null,
    paused: false,
    scheduleEnabled: true,
    freeSpace: null,
    staleHours: 48,
    offsite: { copying: null, queued: 0, targets: [] },
    encryption: { recipients: [], passphrase: false },
    ...overrides,
  };
}
