import { statSync } from 'node:fs';
import path from 'node:path';
import log from 'electron-log/node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../shared/settings.js';
import { History } from '../../electron/app/history.js';
import { PRIVATE_LOG_WRITE_OPTIONS } from '../../electron/app/log.js';
import { SettingsStore } from '../../electron/app/settings-store.js';
import { makeTempDir } from '../helpers/tmp.js';

const modeOf = (file: string) => statSync(file).mode & 0o777;

describe("the app's own files are private whatever the umask", () => {
  let previous: number;
  beforeEach(() => (previous = process.umask(0o022)));
  afterEach(() => void process.umask(previous));

  it('writes settings and history 0600 in a 0700 folder', async () => {
    const userData = path.join(makeTempDir('aurora-private'), 'user-data');
    const settings = new SettingsStore(userData);
    await settings.save(DEFAULT_SETTINGS);
    const history = new History(path.join(userData, 'fresh'));
    await history.start('backup', 'manual');
    expect(modeOf(userData)).toBe(0o700);
    expect(modeOf(settings.file)).toBe(0o600);
    expect(modeOf(path.dirname(history.file))).toBe(0o700);
    expect(modeOf(history.file)).toBe(0o600);
  });

  it('writes the log 0600 with the options the app and serve give electron-log', () => {
    const file = path.join(makeTempDir('aurora-private-log'), 'logs', 'main.log');
    const logger = log.create({ logId: 'private-files-test' });
    logger.transports.console.level = false;
    logger.transports.file.resolvePathFn = () => file;
    logger.transports.file.writeOptions = PRIVATE_LOG_WRITE_OPTIONS;
    logger.transports.file.sync = true;
    logger.info('a line naming /srv/pds/data');
    expect(modeOf(file)).toBe(0o600);
  });
});
