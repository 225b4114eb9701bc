#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { CliError, signalExitCode, type Command } from './command.js';

type Loader = () => Promise<{ command: Command }>;

// Loaded on demand so that `backup` does not pay for what `serve` needs, and spelled out so bundlers see them.
const LOADERS = {
  fixture: () => import('./commands/fixture.js'),
  backup: () => import('./commands/backup.js'),
  verify: () => import('./commands/verify.js'),
  list: () => import('./commands/list.js'),
  prune: () => import('./commands/prune.js'),
  restore: () => import('./commands/restore.js'),
  copy: () => import('./commands/copy.js'),
  targets: () => import('./commands/targets.js'),
  serve: () => import('./commands/serve.js'),
} satisfies Record<string, Loader>;
type CommandName = keyof typeof LOADERS;
const COMMANDS = Object.keys(LOADERS) as CommandName[];

async function load(name: CommandName): Promise<Command> {
  return (await LOADERS[name]()).command;
}

async function overview(): Promise<string> {
  const lines = ['Usage: aurora-backup <command> [options]', '', 'Backs up and restores an Aurora Locus PDS data directory.', '', 'Commands:'];
  for (const name of COMMANDS) lines.push(`  ${name.padEnd(9)} ${(await load(name)).summary}`);
  lines.push('', 'Run `aurora-backup <command> --help` for a command\'s options.');
  return lines.join('\n');
}

/** The closest of `candidates` to a mistyped `word` (at most two edits, or a prefix), for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | null {
  const distance = (a: string, b: string) => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      row = next;
    }
    return row[b.length]!;
  };
  const scored = candidates.map((c) => ({ c, d: c.startsWith(word) && word.length >= 2 ? 0 : distance(word, c) })).sort((x, y) => x.d - y.d);
  return scored[0] && scored[0].d <= Math.min(2, Math.floor(word.length / 2)) ? scored[0].c : null;
}

function commandNamed(name: string): CommandName {
  if ((COMMANDS as string[]).includes(name)) return name as CommandName;
  const guess = closest(name, COMMANDS);
  throw new CliError(`Unknown command "${name}".${guess ? ` Did you mean "${guess}"?` : ''} Commands: ${COMMANDS.join(', ')}. See aurora-backup --help.`, 2, 'USAGE');
}

/** parseArgs's messages, in our words: the option, what is wrong, and the nearest real option. */
function describeParseError(error: unknown, command: Command): string {
  const { code, message } = error as { code?: string; message: string };
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) {
    const guess = option.startsWith('--') ? closest(option.slice(2), Object.keys(command.options)) : null;
    return `Unknown option ${option}.${guess ? ` Did you mean --${guess}?` : ''}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option && /argument missing/.test(message)) return `${option} needs a value.`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) return `${option} takes no value.`;
  return message;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(await overview());
    return name ? 0 : 2;
  }
  if (name === 'help') {
    console.log(rest[0] ? (await load(commandNamed(rest[0]))).help : await overview());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    const { APP_VERSION } = await import('../engine/version.js');
    console.log(APP_VERSION);
    return 0;
  }
  const command = await load(commandNamed(name));
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  let args;
  try {
    args = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${describeParseError(error, command)}\nSee aurora-backup ${name} --help.`, 2, 'USAGE');
  }
  return command.run(args);
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const known = error instanceof CliError;
    // --json: the failure is JSON on stdout too, where a script reads the result.
    if (argv.includes('--json')) {
      const message = error instanceof Error ? error.message : String(error);
      console.log(JSON.stringify({ ok: false, error: message, code: known ? (error.code ?? 'FAILED') : 'INTERNAL' }));
    }
    if (known) console.error(`aurora-backup: ${error.message}`);
    else console.error('aurora-backup: unexpected error:', error);
    // Cancelled by a signal: 128 + its number, as a shell reports a process the signal ended.
    process.exitCode = signalExitCode() ?? (known ? error.exitCode : 70);
  },
);
