import { execFileSync, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Holds a process at a fault point (AURORA_FAULT_PAUSE, electron/engine/fault-injection.ts) until the test
 * lets it go: the test then acts at a moment it chose, not after a delay that a busy machine stretches.
 * Pass `env` to the process; `hold()` before starting the work, `reached()` waits until it is there.
 */
export class FaultPause {
  readonly fifo: string;

  constructor(
    readonly point: string,
    dir: string,
  ) {
    this.fifo = path.join(dir, `pause-${point.replace(/\W/g, '_')}.fifo`);
  }

  get env(): Record<string, string> {
    return { AURORA_FAULT_PAUSE: this.point, AURORA_FAULT_PAUSE_FIFO: this.fifo };
  }

  /** From now on, the next process or thread reaching the point waits there. */
  hold(): void {
    execFileSync('mkfifo', [this.fifo]);
  }

  /**
   * Resolves once a process waits at the point (it has opened the pipe); its `release()` lets it go on and
   * ends the hold. Rejects when `child` exits first.
   */
  async reached(child?: ChildProcess): Promise<{ release(): Promise<void> }> {
    let exited = false;
    const onExit = () => {
      exited = true;
      // Unblocks our own open() below, which waits for a reader.
      void open(this.fifo, constants.O_RDONLY | constants.O_NONBLOCK).then((h) => h.close(), () => undefined);
    };
    child?.once('exit', onExit);
    const writer = await open(this.fifo, 'w');
    child?.off('exit', onExit);
    if (exited) {
      await writer.close();
      await unlink(this.fifo);
      throw new Error(`the process exited before reaching ${this.point}`);
    }
    return {
      release: async () => {
        await unlink(this.fifo); // no later arrival waits
        await writer.close(); // the waiting reader sees the end of the pipe and goes on
      },
    };
  }
}
