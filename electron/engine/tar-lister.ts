import { Writable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import type { Compression } from '../../shared/components.js';
import { EngineError } from './errors.js';

/**
 * node-tar's parser as a Writable, strict so that a truncated or garbled archive is an error. `onEntry`
 * throwing (an entry refused) fails the stream with that error; no later entry is looked at.
 */
export function tarLister(onEntry: (entry: ReadEntry) => boolean): Writable {
  let error: Error | null = null;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry) => {
      let taken = false;
      if (!error) {
        try {
          taken = onEntry(entry);
        } catch (refused) {
          error = refused as Error;
        }
      }
      if (!taken) entry.resume();
    },
  });
  parser.on('error', (e: Error) => (error ??= e));
  // Resolves when the parser can take more, has failed, or has finished.
  const settle = (events: string[], callback: () => void) => {
    const handler = () => {
      for (const event of events) parser.off(event, handler);
      callback();
    };
    for (const event of events) parser.on(event, handler);
  };
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (error) return callback(error);
      if (parser.write(chunk)) return callback(error);
      settle(['drain', 'error', 'close'], () => callback(error));
    },
    final(callback) {
      if (error) return callback(error);
      settle(['close'], () => callback(error));
      parser.end();
    },
  });
}

export function describeStreamError(error: Error & { code?: string }, compression: Compression): string {
  if (error instanceof EngineError && error.code.startsWith('DECRYPT_')) return `decryption failed: ${error.message.replace(/\.$/, '')}`; // callers end the sentence
  if (error.code?.startsWith('TAR_')) return `tar archive error: ${error.message.replace(/^TAR_\w+: /, '')}`;
  if (error.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(error.message)) {
    return `truncated ${compression} stream (unexpected end of file)`;
  }
  if (error.code?.startsWith('Z_') || error.code?.startsWith('ZSTD_error')) {
    return `corrupt ${compression} stream (${error.message})`;
  }
  return `cannot be read (${error.message})`;
}
