import { constants as osConstants } from 'node:os';
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
    /** For --json output: the EngineError's code, or USAGE for a mistyped command line. */
    readonly code?: string,
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

/** The signals that cancel a running command: Ctrl+C, a service manager's stop, a closed terminal. */
const CANCEL_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let received: NodeJS.Signals | null = null;

/** 128 + the number of the signal that cancelled the command (SIGINT 130, SIGTERM 143, SIGHUP 129), or null. */
export function signalExitCode(): number | null {
  return received === null ? null : 128 + osConstants.signals[received];
}

/**
 * Ctrl+C, SIGTERM or SIGHUP cancels through the returned signal, so the engine can clean up; the process
 * then exits with 128 + the signal's number (signalExitCode). A second one exits at once. Call `dispose`
 * when the work is over.
 */
export function cancelOnSignals(messages: { cancelling: string; stopped?: string }): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      if (messages.stopped) process.stderr.write(`\n${messages.stopped}\n`);
      process.exit(signalExitCode() ?? 130);
    }
    received = signal;
    process.stderr.write(`\n${messages.cancelling}\n`);
    controller.abort();
  };
  for (const signal of CANCEL_SIGNALS) process.on(signal, onSignal);
  return {
    signal: controller.signal,
    dispose() {
      for (const signal of CANCEL_SIGNALS) process.off(signal, onSignal);
    },
  };
}
