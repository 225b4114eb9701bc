import { appendFileSync } from 'node:fs';

/**
 * Test hook for the restore's crash-safety tests, inert unless one of these variables is set:
 * - `AURORA_FAULT_AT=<point>`: the process kills itself (SIGKILL, no cleanup) on reaching that point;
 * - `AURORA_FAULT_ERROR=<point>`: an Error is thrown there instead (an ordinary failure, e.g. a file
 *   held open on Windows), which exercises the rollback path;
 * - `AURORA_FAULT_TRACE=<file>`: every point reached is appended to that file, one name per line, so
 *   a test can list the points of a real run and then kill a run at each of them.
 */
export function faultPoint(name: string): void {
  const env = process.env;
  if (env.AURORA_FAULT_TRACE) appendFileSync(env.AURORA_FAULT_TRACE, `${name}\n`);
  if (env.AURORA_FAULT_AT === name) process.kill(process.pid, 'SIGKILL');
  if (env.AURORA_FAULT_ERROR === name) throw new Error(`injected failure at ${name}`);
}
