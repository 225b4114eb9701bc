import { describe, expect, it } from 'vitest';
import type { Command } from '../../electron/cli/command.js';
import { command as backup } from '../../electron/cli/commands/backup.js';
import { command as copy } from '../../electron/cli/commands/copy.js';
import { command as fixture } from '../../electron/cli/commands/fixture.js';
import { command as list } from '../../electron/cli/commands/list.js';
import { command as prune } from '../../electron/cli/commands/prune.js';
import { command as restore } from '../../electron/cli/commands/restore.js';
import { command as serve } from '../../electron/cli/commands/serve.js';
import { command as targets } from '../../electron/cli/commands/targets.js';
import { command as verify } from '../../electron/cli/commands/verify.js';

const COMMANDS: Array<[string, Command]> = Object.entries({ fixture, backup, verify, list, prune, restore, copy, targets, serve });

/** The lines of a help text's Options section (up to the first blank line). */
function optionLines(help: string): string[] {
  const lines = help.split('\n');
  const start = lines.indexOf('Options:');
  const end = lines.indexOf('', start);
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

describe("every command's --help", () => {
  it.each(COMMANDS)("%s: lines up its options' descriptions in one column", (name, command) => {
    const lines = optionLines(command.help);
    expect(lines.length, name).toBeGreaterThan(0);
    const columns = new Set<number>();
    for (const line of lines) {
      const option = /^ {2}-\S*(?: \S+)? {2,}(?=\S)/.exec(line);
      if (option) columns.add(option[0].length);
    }
    expect([...columns], `${name}: the columns its options' descriptions start at`).toHaveLength(1);
    const [column] = columns;
    // Continued descriptions, and those below an option too long to share their line, start there too (or deeper).
    for (const line of lines.filter((l) => /^ {3,}\S/.test(l))) expect(line.search(/\S/), `${name}: "${line}"`).toBeGreaterThanOrEqual(column!);
  });
});
