import { existsSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { apiInputs, type ApiName, type ApiOutputs, type FolderListing } from '../../shared/api.js';
import type { BridgeResponse } from '../../shared/http-bridge.js';
import { unsupportedSettings, validateSettings, type FieldErrors, type Settings } from '../../shared/settings.js';
import { EngineError } from '../engine/errors.js';
import { describeError, type Logger } from './log.js';
import { parseRecipients } from './encryption.js';
import type { Controller } from './controller.js';
import { readLogTail } from './log-tail.js';
import { importEnvFile } from './settings-store.js';

/** Bad input from the renderer (or an HTTP client): reported as is, nothing was done. */
export class InputError extends Error {}

/** One function per API request; the input is `unknown` because it comes from outside and is parsed here. */
export type Handlers = { [N in ApiName]: (input: unknown) => Promise<ApiOutputs[N]> };

/** Parses input with the request's schema; object inputs must not carry fields the schema does not know. */
function parse<N extends ApiName>(name: N, input: unknown): z.output<(typeof apiInputs)[N]> {
  const schema = apiInputs[name] as z.ZodType;
  const strict = schema instanceof z.ZodObject ? schema.strict() : schema;
  const result = strict.safeParse(input);
  if (!result.success) {
    const detail = result.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
    throw new InputError(`Invalid input for ${name}: ${detail}`);
  }
  return result.data as z.output<(typeof apiInputs)[N]>;
}

type Kind = 'directory' | 'file';

/** Why `p` is not an absolute path to an existing `kind`, or null when it is. */
async function pathProblem(p: string, kind: Kind): Promise<string | null> {
  if (p.includes('\0')) return 'The path contains a NUL character.';
  if (!path.isAbsolute(p)) return `"${p}" is not a full path; choose the ${kind} again.`;
  try {
    const s = await stat(p);
    if (kind === 'directory' && !s.isDirectory()) return `${p} is not a folder.`;
    if (kind === 'file' && !s.isFile()) return `${p} is not a file.`;
    return null;
  } catch {
    return `${p} does not exist.`;
  }
}

async function requirePath(p: string, kind: Kind): Promise<string> {
  const problem = await pathProblem(p, kind);
  if (problem) throw new InputError(problem);
  return path.resolve(p);
}

/** What a PDS data directory holds; an empty folder is accepted too (a restore onto a new machine). */
const PDS_ENTRIES = ['account.sqlite', 'actors', 'blobs'];

/**
 * Field errors for the paths in otherwise valid settings. The data directory must exist and look like a
 * PDS's (or be empty, for a restore onto a new machine); the backup folder may be new, but its parent
 * must exist and nothing that is not a folder may be in its place.
 */
async function settingsPathErrors(s: Settings): Promise<FieldErrors> {
  const errors: FieldErrors = {};
  const dataProblem = await pathProblem(s.dataDir, 'directory');
  if (dataProblem) errors.dataDir = dataProblem;
  else if (!s.envFile) {
    const entries = await readdir(s.dataDir).catch(() => null);
    if (entries === null) errors.dataDir = `${s.dataDir} cannot be read. Give this user read access, or choose the folder the PDS writes to.`;
    else if (entries.length > 0 && !PDS_ENTRIES.some((name) => entries.includes(name))) {
      errors.dataDir = `${s.dataDir} does not look like a PDS data directory: it has no account.sqlite, actors/ or blobs/. Choose the folder the PDS writes to (PDS_DATA_DIRECTORY in its .env).`;
    }
  }
  if (!path.isAbsolute(s.backupDir)) errors.backupDir = `"${s.backupDir}" is not a full path; choose the folder again.`;
  else {
    const existing = await stat(s.backupDir).catch(() => null);
    if (existing && !existing.isDirectory()) errors.backupDir = `${s.backupDir} is a file, not a folder. Choose a folder to keep backups in.`;
    else if (!existing && (await pathProblem(path.dirname(s.backupDir), 'directory'))) errors.backupDir = `Neither ${s.backupDir} nor its parent folder exists.`;
  }
  if (s.envFile) {
    const envProblem = await pathProblem(s.envFile, 'file');
    if (envProblem) errors.envFile = envProblem;
  }
  return errors;
}

/** Fields of `input` that the schema dropped from `parsed` (zod strips unknown keys; we refuse them). */
function unknownFields(input: unknown, parsed: unknown, prefix = ''): string[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return [];
  const known = (parsed ?? {}) as Record<string, unknown>;
  return Object.entries(input).flatMap(([key, value]) =>
    key in known ? unknownFields(value, known[key], `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}

/** `inner` is `outer` or inside it, after resolving symbolic links. */
async function isInside(inner: string, outer: string): Promise<boolean> {
  const [a, b] = await Promise.all([realpath(inner), realpath(outer)]);
  const rel = path.relative(b, a);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The folders in `dir` (hidden ones left out), each marked when it holds a backup's manifest.json. */
async function listFolders(dir: string): Promise<FolderListing> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new InputError(`${dir} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
  }
  const folders = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => ({ name: e.name, path: path.join(dir, e.name) }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const marked = await Promise.all(folders.map(async (f) => ({ ...f, backup: existsSync(path.join(f.path, 'manifest.json')) })));
  const parent = path.dirname(dir);
  return { path: dir, parent: parent === dir ? null : parent, folders: marked };
}

function requireTarget(controller: Controller, name: string): string {
  if (!controller.offsite.has(name)) throw new InputError(`There is no off-site target named "${name}".`);
  return name;
}

/** The API's requests, shared by Electron IPC (electron/ipc.ts) and the HTTP bridge (http-bridge.ts). */
export function createHandlers(controller: Controller): Handlers {
  return {
    getStatus: async (input) => (parse('getStatus', input), controller.currentStatus()),
    getSettings: async (input) => (parse('getSettings', input), controller.getSettings()),
    setSettings: async (input) => {
      const checked = validateSettings(parse('setSettings', input));
      if (!checked.ok) return checked;
      const unknown = unknownFields(input, checked.settings);
      if (unknown.length) return { ok: false, errors: Object.fromEntries(unknown.map((field) => [field, 'Unknown setting'])) };
      // Encryption changes go through setEncryption / generateEncryptionKey, which keep the keychain in step.
      const current = controller.getSettings().encryption;
      const given = (input as { encryption?: unknown }).encryption;
      if (given !== undefined && JSON.stringify(checked.settings.encryption) !== JSON.stringify(current)) {
        return { ok: false, errors: { encryption: 'Change encryption with its own buttons in Settings → Encryption; nothing was saved.' } };
      }
      checked.settings.encryption = current;
      const errors = { ...unsupportedSettings(checked.settings), ...(await settingsPathErrors(checked.settings)) };
      if (Object.keys(errors).length) return { ok: false, errors };
      const settings = { ...checked.settings, dataDir: path.resolve(checked.settings.dataDir), backupDir: path.resolve(checked.settings.backupDir) };
      await controller.updateSettings(settings);
      return { ok: true, settings: controller.getSettings() };
    },
    importEnv: async (input) => {
      const { path: envFile } = parse('importEnv', input);
      return importEnvFile(await requirePath(envFile, 'file'), controller.getSettings());
    },
    startBackup: async (input) => {
      parse('startBackup', input);
      const started = await controller.startBackup('manual');
      return started.started ? { started: true } : { started: false, reason: started.reason };
    },
    cancel: async (input) => (parse('cancel', input), controller.cancel()),
    pauseSchedule: async (input) => controller.setPaused(parse('pauseSchedule', input).paused),
    listBackups: async (input) => (parse('listBackups', input), controller.listBackups()),
    verifyBackup: async (input) => {
      const { path: backup, deep, decryption } = parse('verifyBackup', input);
      if (decryption && 'identityPath' in decryption) await requirePath(decryption.identityPath, 'file');
      return controller.verify(await requirePath(backup, 'directory'), deep, decryption);
    },
    inspectBackup: async (input) => {
      const { path: backup } = parse('inspectBackup', input);
      return controller.inspect(await requirePath(backup, 'directory'));
    },
    restore: async (input) => {
      const { path: backup, components, decryption, secrets } = parse('restore', input);
      if (decryption && 'identityPath' in decryption) await requirePath(decryption.identityPath, 'file');
      return controller.restore(await requirePath(backup, 'directory'), components, decryption, secrets);
    },
    answerConfigQuestion: async (input) => ({ answered: controller.answerConfigQuestion(parse('answerConfigQuestion', input).choice) }),
    getEncryption: async (input) => (parse('getEncryption', input), controller.getEncryption()),
    generateEncryptionKey: async (input) => {
      const { identityPath, keepCopy } = parse('generateEncryptionKey', input);
      const file = identityPath ?? (await controller.platform.pickSaveFile('identityFile'));
      if (file === null) return { ok: false, cancelled: true, error: 'No file was chosen for the identity; encryption is unchanged.' };
      if (file.includes('\0') || !path.isAbsolute(file)) return { ok: false, error: `"${file}" is not a full path; give the full path of the file to save the identity in.` };
      const folderProblem = await pathProblem(path.dirname(file), 'directory');
      if (folderProblem) return { ok: false, error: `Cannot save the identity there: ${folderProblem}` };
      try {
        const made = await controller.generateEncryptionKey(path.resolve(file), keepCopy);
        return { ok: true, recipient: made.recipient, identityPath: path.resolve(file), state: made.state };
      } catch (error) {
        if (error instanceof EngineError) return { ok: false, error: error.message };
        throw error;
      }
    },
    setEncryption: async (input) => {
      const choice = parse('setEncryption', input);
      try {
        if (choice.mode !== 'recipients') return { ok: true, state: await controller.setEncryption(choice) };
        const parsed = parseRecipients(choice.recipients);
        if (!parsed.ok) return parsed;
        return { ok: true, state: await controller.setEncryption({ mode: 'recipients', recipients: parsed.recipients }) };
      } catch (error) {
        if (error instanceof EngineError) return { ok: false, error: error.message }; // the keychain's KeychainError among them
        throw error;
      }
    },
    getHistory: async (input) => (parse('getHistory', input), controller.history.list()),
    getLogPath: async (input) => (parse('getLogPath', input), controller.logPath),
    openFolder: async (input) => {
      const { target, path: given } = parse('openFolder', input);
      let folder: string;
      if (target === 'backup') {
        // Only a backup folder: opening an arbitrary path could launch a program.
        if (!given) throw new InputError('Invalid input for openFolder: path: which backup to open is required.');
        folder = await requirePath(given, 'directory');
        if (!(await isInside(folder, controller.backupDir))) throw new InputError(`${folder} is not inside the backups folder ${controller.backupDir}.`);
      } else {
        if (given !== undefined) throw new InputError(`Invalid input for openFolder: path is only for target "backup".`);
        folder = target === 'backups' ? controller.backupDir : target === 'data' ? controller.dataDir : controller.logPath;
        const problem = await pathProblem(folder, target === 'log' ? 'file' : 'directory');
        if (problem) return { opened: false, error: problem };
      }
      const error = await controller.platform.openPath(folder);
      return error ? { opened: false, error } : { opened: true };
    },
    pickFolder: async (input) => controller.platform.pickFolder(parse('pickFolder', input).purpose),
    listFolders: async (input) => {
      const { path: given } = parse('listFolders', input);
      const start = given ?? (existsSync(controller.backupDir) ? controller.backupDir : homedir());
      return listFolders(await requirePath(start, 'directory'));
    },
    readLog: async (input) => {
      const { lines, level } = parse('readLog', input);
      return readLogTail(controller.logPath, lines, level);
    },
    listTargets: async (input) => (parse('listTargets', input), controller.offsite.listTargets()),
    addTarget: async (input) => {
      const { target, secret } = parse('addTarget', input);
      return controller.offsite.add(target, secret);
    },
    testTarget: async (input) => controller.offsite.test(requireTarget(controller, parse('testTarget', input).name)),
    removeTarget: async (input) => ({ removed: await controller.offsite.remove(parse('removeTarget', input).name) }),
    copyStates: async (input) => {
      parse('copyStates', input);
      return controller.offsite.copyStates((await controller.listBackups()).map((b) => b.name));
    },
    copyBackup: async (input) => {
      const { path: backup, target } = parse('copyBackup', input);
      const folder = await requirePath(backup, 'directory');
      if (!(await isInside(folder, controller.backupDir)) || path.dirname(folder) !== path.resolve(controller.backupDir)) {
        throw new InputError(`${folder} is not a backup in the backups folder ${controller.backupDir}.`);
      }
      return controller.offsite.enqueue(folder, target === undefined ? null : requireTarget(controller, target));
    },
    listTargetBackups: async (input) => controller.offsite.listBackupsOn(requireTarget(controller, parse('listTargetBackups', input).name)),
    downloadFromTarget: async (input) => {
      const { name, backupName } = parse('downloadFromTarget', input);
      return controller.offsite.download(requireTarget(controller, name), backupName, controller.backupDir);
    },
  };
}

/**
 * Runs one request for a transport: the answer as the HTTP bridge sends it (Electron IPC returns the same
 * body, so the renderer sees one error shape). Input and engine errors are the user's to read (400); anything
 * else is logged with its cause (500).
 */
export async function invoke(handlers: Handlers, name: ApiName, input: unknown, log: Logger): Promise<{ status: 200 | 400 | 500; body: BridgeResponse<unknown> }> {
  try {
    return { status: 200, body: { ok: true, value: await handlers[name](input) } };
  } catch (error) {
    if (error instanceof InputError || error instanceof EngineError) return { status: 400, body: { ok: false, error: error.message } };
    log.error(`${name} failed:`, describeError(error));
    return { status: 500, body: { ok: false, error: describeError(error) } };
  }
}
