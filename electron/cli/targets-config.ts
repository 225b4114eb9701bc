import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TargetSpec } from '../../shared/targets.js';
import { defaultUserDataDir } from '../app/paths.js';
import { EngineError, readUserFile } from '../engine/errors.js';
import { KnownHosts } from '../engine/targets/known-hosts.js';
import type { TargetContext } from '../engine/targets/open.js';
import type { Target } from '../engine/targets/target.js';
import { CliError, type OptionSpec } from './command.js';

/**
 * The targets' code (the S3 and SFTP libraries, 2 MB of the bundle) is loaded only once there is a target to
 * read or open: a backup without off-site targets does not pay for it at start-up.
 */
const targetsModule = () => import('../engine/targets/open.js');

/** The app's targets file, shared by the desktop app and the CLI. */
export const TARGETS_FILE = 'targets.json';
/** SFTP host keys pinned on first connection. */
export const KNOWN_HOSTS_FILE = 'sftp-known-hosts.json';

export const TARGET_OPTIONS: OptionSpec = {
  targets: { type: 'string' },
  'ssh-key': { type: 'string' },
  'ssh-password-file': { type: 'string' },
};

/** The SFTP password, for a target given as a URL or configured without a key or password; never an argument (ps shows those). */
export const SFTP_PASSWORD_VARIABLE = 'AURORA_SFTP_PASSWORD';

/** The help of TARGET_OPTIONS, its descriptions starting at `column` as the rest of the command's options do. */
export function targetOptionsHelp(column: number): string {
  const options: Array<[string, string[]]> = [
    ['--targets FILE', ['Targets file: {"targets": [...]} as in the app\'s targets.json (default: the', `app's, ${path.join(defaultUserDataDir(), TARGETS_FILE)}, when it exists)`]],
    ['--ssh-key FILE', ['Private key for an sftp:// target given as a URL (or overriding a configured one)']],
    ['--ssh-password-file FILE', ['The SFTP password instead of a key: the file\'s first line (or the environment', `variable ${SFTP_PASSWORD_VARIABLE}, used when the target has no key and no password)`]],
  ];
  const indent = ' '.repeat(column);
  return options
    .flatMap(([flag, [first, ...rest]]) => {
      const head = `  ${flag}`;
      const lines = head.length + 2 <= column ? [head.padEnd(column) + first] : [head, indent + first];
      return [...lines, ...rest.map((line) => indent + line)];
    })
    .join('\n');
}

export const TARGET_URL_HELP = `A target is the name of a configured target, or one written out:
  /mnt/offsite/aurora                                   a folder (another disk, a mounted share)
  s3://BUCKET/PREFIX?endpoint=URL&region=R              S3 or S3-compatible; path-style when an endpoint is
                                                        given; keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
                                                        or ~/.aws/credentials (AWS_PROFILE)
  sftp://USER@HOST:PORT/PATH --ssh-key FILE             SFTP (or --ssh-password-file FILE, or the password in
                                                        ${SFTP_PASSWORD_VARIABLE}); the host key is pinned on first use in
                                                        ${path.join(defaultUserDataDir(), KNOWN_HOSTS_FILE)}`;

/** The targets of `--targets FILE`, else of the app's targets.json when there is one. */
export async function configuredTargets(values: Record<string, unknown>): Promise<{ specs: TargetSpec[]; file: string | null }> {
  const given = values.targets as string | undefined;
  const file = given ? path.resolve(given) : path.join(defaultUserDataDir(), TARGETS_FILE);
  if (!given && !existsSync(file)) return { specs: [], file: null };
  const { loadTargetsFile } = await targetsModule();
  return { specs: await asCliError(loadTargetsFile(file)), file };
}

export function targetContext(): TargetContext {
  return {
    knownHosts: new KnownHosts(path.join(defaultUserDataDir(), KNOWN_HOSTS_FILE)),
    onHostKeyPinned: (message) => process.stderr.write(`${message}\n`),
  };
}

/** `--to`/`--from`/`--target` → the target's settings: a configured name, a URL or a folder path. */
export async function targetSpecFromArg(text: string, values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<TargetSpec> {
  const { specs } = await configuredTargets(values);
  const { resolveTarget } = await targetsModule();
  const spec = await asCliError(Promise.resolve().then(() => resolveTarget(text, specs, { sshKey: values['ssh-key'] as string | undefined })));
  if (spec.type !== 'sftp') return spec;
  const passwordFile = values['ssh-password-file'] as string | undefined;
  if (passwordFile) return { ...spec, privateKeyFile: values['ssh-key'] ? spec.privateKeyFile : undefined, password: await readPasswordFile(passwordFile) };
  const fromEnv = env[SFTP_PASSWORD_VARIABLE];
  if (fromEnv && !spec.privateKeyFile && !spec.password) return { ...spec, password: fromEnv };
  return spec;
}

async function readPasswordFile(file: string): Promise<string> {
  const text = await asCliError(readUserFile(path.resolve(file), 'SFTP password file', 'BAD_TARGET', 'Check the path given with --ssh-password-file.'));
  const password = text.split(/\r?\n/)[0]!;
  if (!password) throw new CliError(`The SFTP password file ${path.resolve(file)} is empty: its first line is the password.`, 2);
  return password;
}

/** `--to`/`--from`/`--target` → an open target. */
export async function targetFromArg(text: string, values: Record<string, unknown>): Promise<{ spec: TargetSpec; target: Target }> {
  const spec = await targetSpecFromArg(text, values);
  const { openTarget } = await targetsModule();
  return { spec, target: openTarget(spec, targetContext()) };
}

export async function asCliError<T>(work: Promise<T>, exitCode = 2): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof EngineError) throw new CliError(error.message, exitCode);
    throw error;
  }
}
