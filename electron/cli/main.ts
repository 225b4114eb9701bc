#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { CliError, type Command } from './command.js';

type Loader = () => Promise<{ command: Command }>;

// Loaded on demand so that `backup` does not pay for what `serve` needs, and spelled out so bundlers see them.
const LOADERS = {
  fixture: () => import('./commands/fixture.js'),
  backup: () => import('./commands/backup.js'),
  verify: () => import('./commands/verify.js'),
  list: () => import('./commands/list.js'),
  prune: () => import('./commands/prune.js'),
  restore: () => import('./commands/restore.js'),
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

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await overview());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    const { APP_VERSION } = await import('../engine/version.js');
    console.log(APP_VERSION);
    return 0;
  }
  if (!(COMMANDS as string[]).includes(name)) {
    throw new CliError(`Unknown command "${name}". Commands: ${COMMANDS.join(', ')}. See aurora-backup --help.`, 2);
  }
  const command = await load(name as CommandName);
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  let args;
  try {
    args = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\nSee aurora-backup ${name} --help.`, 2);
  }
  return command.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof CliError) {
      console.error(`aurora-backup: ${error.message}`);
      process.exitCode = error.exitCode;
    } else {
      console.error('aurora-backup: unexpected error:', error);
      process.exitCode = 70;
    }
  },
);
