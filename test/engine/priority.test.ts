import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, TSX_LOADER } from '../helpers/run-cli.js';

/** The nice value of every thread of a child that started at `startNice` and then yielded the CPU. */
function niceAfterYielding(startNice: number): number[] {
  const script = `
    import { readdirSync, readFileSync } from 'node:fs';
    import { yieldCpuToPds } from ${JSON.stringify(path.join(ROOT, 'electron/engine/priority.ts'))};
    yieldCpuToPds();
    const nice = readdirSync('/proc/self/task').map((t) => Number(readFileSync('/proc/self/task/' + t + '/stat', 'utf8').split(') ')[1].split(' ')[16]));
    console.log(JSON.stringify([...new Set(nice)]));`;
  const out = execFileSync('nice', ['-n', String(startNice), process.execPath, '--import', TSX_LOADER, '--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out) as number[];
}

describe.runIf(process.platform === 'linux')('yielding the CPU to the PDS', () => {
  // `nice -n N` adds to the priority the tests run at (a CI may run them under `nice` already).
  const testsNice = os.getPriority();

  it('lowers every thread below normal', () => {
    expect(niceAfterYielding(0)).toEqual([Math.max(testsNice, 10)]);
  });

  it('never raises the priority of a backup started lower still (nice -n 15, systemd Nice=)', () => {
    expect(niceAfterYielding(15)).toEqual([Math.min(testsNice + 15, 19)]);
  });
});
