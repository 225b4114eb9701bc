/**
 * Test hook for the restore's crash-safety tests, inert unless one of these variables is set:
 * - `AURORA_FAULT_AT=<point>`: the process kills itself (SIGKILL, no cleanup) on reaching that point;
 * - `AURORA_FAULT_ERROR=<point>`: an Error is thrown there instead (an ordinary failure, e.g. a file
 *   held open on Windows), which exercises the rollback path.
 * Point names are listed by the restore as it passes them (`restoreFaultPoints` in restore.ts).
 */
export function faultPoint(name: string): void {
  if (process.env.AURORA_FAULT_AT === name) process.kill(process.pid, 'SIGKILL');
  if (process.env.AURORA_FAULT_ERROR === name) throw new Error(`injected failure at ${name}`);
}
