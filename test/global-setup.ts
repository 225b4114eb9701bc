import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Each `vitest run` gets a temporary folder of its own (TMPDIR for the test processes and everything they
 * start), removed at the end, so nothing a test leaves reaches the system's temporary folder and runs side
 * by side never meet. A test's own folder left behind (named aurora-…) fails the run: every test cleans up.
 */
export default function setup(): () => void {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'aurora-test-run-'));
  chmodSync(runDir, 0o755); // as open as the folder it stands in for: some tests run the CLI as another user
  process.env.TMPDIR = runDir;
  return () => {
    const left = readdirSync(runDir).filter((name) => name.startsWith('aurora-'));
    rmSync(runDir, { recursive: true, force: true });
    if (left.length > 0) throw new Error(`Tests left these folders in the temporary folder (each test must remove what it makes): ${left.join(', ')}`);
  };
}
