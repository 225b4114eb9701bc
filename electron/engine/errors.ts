import { readFile } from 'node:fs/promises';

/** A failure the user can act on: one message naming the path and what to do. `code` is for programs. */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly code = 'ENGINE',
  ) {
    super(message);
  }
}

/**
 * The text of a file the user named (a key, recipients, targets or password file). A missing, unreadable
 * or folder path is an EngineError with `code` that names the file, what it was meant to be (`what`, e.g.
 * "identity file") and the fix; `missingFix` says where the right file comes from.
 */
export async function readUserFile(file: string, what: string, code: string, missingFix: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code;
    const The = `The ${what} ${file}`;
    if (errno === 'ENOENT' || errno === 'ENOTDIR') throw new EngineError(`${The} does not exist. ${missingFix}`, code);
    if (errno === 'EACCES' || errno === 'EPERM') throw new EngineError(`${The} cannot be read by this user (permission denied). Run as a user allowed to read it, or give a copy this user may read.`, code);
    if (errno === 'EISDIR') throw new EngineError(`${The} is a folder. Give the file itself.`, code);
    throw new EngineError(`${The} cannot be read (${errno ?? (error as Error).message}).`, code);
  }
}
