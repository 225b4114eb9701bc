// `npm run quickstart`: after setup, backs up the PDS data directory (./data, or PDS_DATA_DIRECTORY from
// the environment or ./.env) into ./backups. When there is no PDS data directory, it says so, generates a
// sample one in ./sample-data and backs that up instead, so a first run always shows the whole job.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../electron/engine/config.js';

const cli = (...args: string[]) => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--', join(import.meta.dirname, '../electron/cli/main.ts'), ...args], {
    stdio: 'inherit',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

const envFile = existsSync('.env') ? '.env' : undefined;
const config = await resolveConfig({ envFile });
if (existsSync(config.locations.accountDb)) {
  console.log(`quickstart: backing up the PDS data directory ${config.locations.dataDir} into ${config.backupDir}`);
  cli('backup', ...(envFile ? ['--env-file', envFile] : []));
} else {
  const sample = join(process.cwd(), 'sample-data');
  console.log(`quickstart: no PDS data directory at ${config.locations.dataDir} (no account.sqlite there).`);
  console.log(`quickstart: generating a sample PDS data directory in ${sample} and backing that up instead.`);
  if (!existsSync(join(sample, 'account.sqlite'))) cli('fixture', sample, '--accounts', '20', '--blob-mb', '50');
  cli('backup', '--data', sample, '--out', config.backupDir);
}
cli('list', '--out', config.backupDir);
