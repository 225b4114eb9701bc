import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/** One CLI command: `electron/cli/commands/<name>.ts` exports `command` of this shape. */
export interface Command {
  /** One line for `aurora-backup --help`. */
  summary: string;
  /** Full text for `aurora-backup <name> --help`: usage line, options, examples. */
  help: string;
  options: OptionSpec;
  /** Resolves to the process exit code. Throw CliError for a user-facing failure. */
  run(args: ParsedArgs): Promise<number>;
}

/** A failure the user can act on: printed as one message without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A whole-number option (`--keep-last 3`); undefined when not given. */
export function wholeNumber(value: unknown, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new CliError(`${flag} needs a whole number of at least ${min}, not "${String(value)}".`, 2);
  return n;
}

/**
 * Ctrl+C (or SIGTERM) cancels through the returned signal, so the engine can clean up; a second one
 * exits at once. Call `dispose` when the work is over.
 */
export function cancelOnSignals(messages: { cancelling: string; stopped?: string }): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) {
      if (messages.stopped) process.stderr.write(`\n${messages.stopped}\n`);
      process.exit(130);
    }
    process.stderr.write(`\n${messages.cancelling}\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
