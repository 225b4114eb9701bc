import path from 'node:path';
import { describeTarget, s3TargetSchema, sftpTargetSchema, targetsFileSchema, type TargetSpec } from '../../../shared/targets.js';
import { EngineError, readUserFile } from '../errors.js';
import { FolderTarget } from './folder.js';
import type { KnownHosts } from './known-hosts.js';
import { S3Target } from './s3.js';
import { SftpTarget } from './sftp.js';
import type { Target } from './target.js';

export interface TargetContext {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  knownHosts: KnownHosts | null;
  onHostKeyPinned?: (message: string) => void;
}

export function openTarget(spec: TargetSpec, ctx: TargetContext): Target {
  switch (spec.type) {
    case 'folder':
      return new FolderTarget(spec.name, spec, ctx.cwd);
    case 's3':
      return new S3Target(spec.name, spec, ctx.env);
    case 'sftp':
      return new SftpTarget(spec.name, spec, { knownHosts: ctx.knownHosts, onHostKeyPinned: ctx.onHostKeyPinned, cwd: ctx.cwd });
  }
}

/**
 * A target written on the command line: `s3://BUCKET/PREFIX?endpoint=URL&region=R` (path-style addressing
 * when an endpoint is given; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the credentials
 * file), `sftp://USER@HOST:PORT/PATH` (with `sshKey`), or else a folder path.
 */
export function parseTargetUrl(text: string, opts: { sshKey?: string } = {}): TargetSpec {
  const scheme = /^([a-z0-9]+):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === 's3') {
    const url = new URL(text);
    const endpoint = url.searchParams.get('endpoint') ?? '';
    const unknown = [...url.searchParams.keys()].filter((k) => k !== 'endpoint' && k !== 'region');
    if (unknown.length) throw new EngineError(`Unknown option ${unknown.join(', ')} in ${redactUrl(text)}: an s3:// target takes endpoint and region.`, 'BAD_TARGET');
    if (url.username || url.password) throw new EngineError('Put S3 credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a credentials file, not in the URL.', 'BAD_TARGET');
    const spec = s3TargetSchema.safeParse({
      name: 's3',
      type: 's3',
      bucket: url.hostname,
      prefix: decodeURIComponent(url.pathname.replace(/^\/+/, '')),
      endpoint,
      region: url.searchParams.get('region') ?? 'us-east-1',
      forcePathStyle: endpoint !== '',
    });
    if (!spec.success) throw new EngineError(`${redactUrl(text)} is not a usable S3 target: ${spec.error.issues[0]!.message}.`, 'BAD_TARGET');
    return { ...spec.data, name: `s3://${spec.data.bucket}/${spec.data.prefix}` };
  }
  if (scheme === 'sftp') {
    const url = new URL(text);
    if (url.password) throw new EngineError('Do not put a password in an sftp:// URL: use --ssh-key FILE, or a targets file.', 'BAD_TARGET');
    // sftp://host/~/backups is relative to the user's home; sftp://host/srv/backups is absolute.
    const remote = decodeURIComponent(url.pathname).replace(/^\/~\/?/, '') || '.';
    const spec = sftpTargetSchema.safeParse({
      name: 'sftp',
      type: 'sftp',
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : 22,
      username: decodeURIComponent(url.username),
      path: remote,
      privateKeyFile: opts.sshKey,
    });
    if (!spec.success) {
      const issue = spec.error.issues[0]!;
      throw new EngineError(`${text} is not a usable SFTP target: ${issue.path.join('.')}: ${issue.message} (write sftp://USER@HOST:PORT/PATH).`, 'BAD_TARGET');
    }
    return { ...spec.data, name: describeTarget(spec.data) };
  }
  if (scheme && scheme !== 'file') throw new EngineError(`Unknown kind of target "${scheme}://": use a folder path, s3://… or sftp://….`, 'BAD_TARGET');
  const folder = scheme === 'file' ? decodeURIComponent(new URL(text).pathname) : text;
  return { name: folder, type: 'folder', path: folder, enabled: true };
}

/** The targets of a targets file: `{"targets": [...]}` (also the app's targets.json) or a bare array. */
export async function loadTargetsFile(file: string): Promise<TargetSpec[]> {
  const text = await readUserFile(file, 'targets file', 'BAD_TARGET', 'Check the path given with --targets; `aurora-backup targets --help` shows the file\'s format.');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new EngineError(`The targets file ${file} is not valid JSON: ${(error as Error).message}.`, 'BAD_TARGET');
  }
  const parsed = targetsFileSchema.safeParse(Array.isArray(raw) ? { targets: raw } : raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new EngineError(`The targets file ${file}: ${issue.path.join('.') || '(file)'}: ${issue.message}.`, 'BAD_TARGET');
  }
  const names = new Set<string>();
  for (const target of parsed.data.targets) {
    if (names.has(target.name)) throw new EngineError(`The targets file ${file} names two targets "${target.name}".`, 'BAD_TARGET');
    names.add(target.name);
  }
  return parsed.data.targets;
}

/** `--to NAME` from the configured targets, else a URL or folder path. */
export function resolveTarget(text: string, configured: TargetSpec[], opts: { sshKey?: string; cwd?: string } = {}): TargetSpec {
  const named = configured.find((t) => t.name === text);
  if (named) {
    if (named.type === 'sftp' && opts.sshKey) return { ...named, privateKeyFile: path.resolve(opts.cwd ?? process.cwd(), opts.sshKey) };
    return named;
  }
  const looksLikeName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(text) && !text.includes('.');
  if (looksLikeName && configured.length > 0) {
    throw new EngineError(`There is no target named "${text}" (configured: ${configured.map((t) => t.name).join(', ')}). Give a configured name, a folder path, s3://… or sftp://….`, 'BAD_TARGET');
  }
  return parseTargetUrl(text, opts);
}

/** A URL for messages: its query (endpoint, region) kept, any user info dropped. */
function redactUrl(text: string): string {
  return text.replace(/\/\/[^/@]*@/, '//');
}
