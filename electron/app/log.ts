/** The slice of electron-log the app logic uses; `electron-log/main` in the app, `electron-log/node` in serve and tests. */
export interface Logger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/**
 * How the log file is written (electron-log's `transports.file.writeOptions`): readable by this user only,
 * whatever the umask, as the settings and history are; it names paths, commands and errors.
 */
export const PRIVATE_LOG_WRITE_OPTIONS = { flag: 'a', mode: 0o600, encoding: 'utf8' } as const;

/** Error message plus its chain of causes, for log lines. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(' ← caused by: ');
}
