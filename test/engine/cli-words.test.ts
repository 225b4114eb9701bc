import { describe, expect, it } from 'vitest';
import { phaseLine, createProgressBar } from '../../electron/cli/progress-bar.js';
import type { Phase, Progress } from '../../shared/progress.js';
import { runCli } from '../helpers/run-cli.js';
import { command as backup } from '../../electron/cli/commands/backup.js';
import { command as restore } from '../../electron/cli/commands/restore.js';
import { command as verify } from '../../electron/cli/commands/verify.js';

/** What `--help` lists before its first blank line: the usage lines. */
const usageOf = (help: string) => help.split('\n\n')[0]!;

describe('the CLI in words', () => {
  it('backup --help and restore --help list every flag in their usage, the encryption ones included, and explain each', async () => {
    for (const [name, command] of Object.entries({ backup, restore, verify })) {
      const shown = await runCli([name, '--help']);
      expect(shown.code).toBe(0);
      expect(shown.stdout.trim()).toBe(command.help.trim());
      const usage = usageOf(shown.stdout);
      const body = shown.stdout.slice(usage.length);
      for (const option of Object.keys(command.options)) {
        expect(usage, `${name} usage: --${option}`).toMatch(new RegExp(`--${option}\\b`));
        expect(body, `${name} options: --${option}`).toMatch(new RegExp(`^ {2}--${option}\\b`, 'm'));
      }
    }
    expect(usageOf(backup.help)).toContain('[--encrypt-to KEY]... [--passphrase-file F]');
    expect(usageOf(restore.help)).toContain('[--identity FILE]... [--passphrase-file F]');
    expect(usageOf(restore.help)).toContain('[--encrypt-to KEY]...');
  });

  it('prints each phase in words, never its internal name', () => {
    const raw: Phase[] = ['stopping-pds', 'starting-pds', 'pre-restore-backup', 'snapshotting', 'archiving', 'swapping'];
    expect(phaseLine({ operation: 'restore', phase: 'stopping-pds' })).toBe('Restore: stopping the PDS');
    expect(phaseLine({ operation: 'backup', phase: 'snapshotting' })).toBe('Backup: copying databases safely');
    expect(phaseLine({ operation: 'restore', phase: 'pre-restore-backup' })).toBe('Restore: saving the current data first');

    // A log (not a terminal): one line per phase. A terminal: the bar, with the phase in words after it.
    for (const isTTY of [false, true]) {
      let written = '';
      const stream = { isTTY, columns: 200, write: (text: string) => ((written += text), true) } as unknown as NodeJS.WriteStream;
      const bar = createProgressBar(stream);
      for (const phase of raw) {
        const p: Progress = { operation: 'restore', phase, bytesDone: 1, bytesTotal: 2, filesDone: 0, filesTotal: 1, startedAt: new Date().toISOString() };
        bar.update(p);
      }
      bar.finish();
      for (const phase of raw) expect(written, `${isTTY ? 'terminal' : 'log'}: ${phase}`).not.toContain(phase);
      expect(written).toContain(isTTY ? 'Stopping the PDS' : 'Restore: stopping the PDS\n');
    }
  });
});
