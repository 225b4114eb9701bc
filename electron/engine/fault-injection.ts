import { appendFileSync, existsSync, readFileSync } from 'node:fs';

/**
 * Test hook for the crash-safety tests, inert unless one of these variables is set:
 * - `AURORA_FAULT_AT=<point>`: the process kills itself (SIGKILL, no cleanup) on reaching that point;
 * - `AURORA_FAULT_ERROR=<point>`: an Error is thrown there instead (an ordinary failure, e.g. a file
 *   held open on Windows), which exercises the rollback path;
 * - `AURORA_FAULT_PAUSE=<point>` with `AURORA_FAULT_PAUSE_FIFO=<named pipe>`: while that pipe exists, the
 *   thread reaching the point waits there until a test has opened the pipe for writing and closed it
 *   again, so the test acts (signals, kills, a second run) at a moment it chose, whatever the machine's load;
 * - `AURORA_FAULT_TRACE=<file>`: every point reached is appended to that file, one name per line, so
 *   a test can list the points of a real run and then kill a run at each of them.
 */
export function faultPoint(name: string): void {
  const env = process.env;
  if (env.AURORA_FAULT_TRACE) appendFileSync(env.AURORA_FAULT_TRACE, `${name}\n`);
  if (env.AURORA_FAULT_AT === name) process.kill(process.pid, 'SIGKILL');
  if (env.AURORA_FAULT_ERROR === name) throw new Error(`injected failure at ${name}`);
  const pipe = env.AURORA_FAULT_PAUSE_FIFO;
  // Opening a named pipe for reading blocks until a writer opens it; the read ends when the writer closes it.
  if (env.AURORA_FAULT_PAUSE === name && pipe && existsSync(pipe)) readFileSync(pipe);
}
