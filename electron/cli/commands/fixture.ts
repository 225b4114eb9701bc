import path from 'node:path';
import { CliError, type Command } from '../command.js';
import { EngineError } from '../../engine/errors.js';
import { createFixture, FIXTURE_DEFAULTS } from '../../engine/fixture.js';
import { countOf, formatBytes } from '../../../shared/format.js';
import { createProgressBar } from '../progress-bar.js';

const help = `Usage: aurora-backup fixture <dir> [--accounts N] [--posts N] [--blob-mb N] [--seed S] [--json]

Writes a sample PDS data directory to <dir> for trying backups and restores: account.sqlite,
sequencer.sqlite and did_cache.sqlite (WAL mode, tables shaped like a real PDS),
actors/<2 hex of sha256(did)>/<did with ':' as '_'>/store.sqlite plus a key file per account, and
blobs/<did>/<cid> files of incompressible, image-like bytes. The same seed always gives the same data.
Refuses a directory that already holds account.sqlite.

Options:
  --accounts N   Accounts (default ${FIXTURE_DEFAULTS.accounts})
  --posts N      Posts per account (default ${FIXTURE_DEFAULTS.posts})
  --blob-mb N    Megabytes of blob files in total (default ${FIXTURE_DEFAULTS.blobMB})
  --seed S       Seed for every generated value (default "${FIXTURE_DEFAULTS.seed}")
  --json         Print the result as JSON on stdout

Example:
  aurora-backup fixture ./data --accounts 50 --blob-mb 1024`;

function count(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new CliError(`${flag} needs a number, not "${String(value)}".`, 2);
  return n;
}

export const command: Command = {
  summary: 'Write a sample PDS data directory (for trying things out and for tests)',
  help,
  options: {
    accounts: { type: 'string' },
    posts: { type: 'string' },
    'blob-mb': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, positionals }) {
    const [dir, ...extra] = positionals;
    if (!dir || extra.length) throw new CliError('Give exactly one directory: aurora-backup fixture <dir>. See --help.', 2);
    const target = path.resolve(dir);
    const bar = createProgressBar(process.stderr, 'generating');
    let result;
    try {
      result = await createFixture(
        target,
        {
          accounts: count(values.accounts, '--accounts'),
          posts: count(values.posts, '--posts'),
          blobMB: count(values['blob-mb'], '--blob-mb'),
          seed: values.seed as string | undefined,
        },
        // The bar only on a terminal: the plain per-phase lines would read as a backup's.
        values.json || !process.stderr.isTTY ? undefined : (p) => bar.update(p),
      );
    } catch (error) {
      if (error instanceof EngineError) throw new CliError(error.message, 1, error.code);
      throw error;
    } finally {
      bar.finish();
    }
    if (values.json) console.log(JSON.stringify({ dataDir: target, ...result }));
    else console.log(`Sample PDS data in ${target}: ${countOf(result.accounts, 'account')}, ${countOf(result.blobs, 'blob')} (${formatBytes(result.bytes)}).`);
    return 0;
  },
};
