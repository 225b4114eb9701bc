import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkPdsRunning, databaseInUse, probeHealthUrl, runRequiredCommand, runShellCommand } from '../../electron/engine/pds-running.js';
import { holdDatabase } from '../helpers/db-holder.js';

let dir: string;
let db: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'aurora-running-'));
  db = path.join(dir, 'account.sqlite');
  const setup = new Database(db);
  setup.pragma('journal_mode = WAL');
  setup.exec('CREATE TABLE account (did TEXT PRIMARY KEY); INSERT INTO account VALUES (\'did:plc:one\')');
  setup.close();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('PDS running detection', () => {
  it('sees no PDS when nothing has the databases open, and leaves the data as it was', async () => {
    expect(databaseInUse(db)).toBeNull();
    expect(databaseInUse(path.join(dir, 'missing.sqlite'))).toBeNull();
    const check = await checkPdsRunning({ databases: [db] });
    expect(check).toEqual({ running: false, reasons: [] });
    const reader = new Database(db, { readonly: true });
    expect(reader.prepare('SELECT did FROM account').all()).toEqual([{ did: 'did:plc:one' }]);
    reader.close();
  });

  it('sees a process that holds an open write transaction', async () => {
    const holder = await holdDatabase(db, 'writing');
    try {
      const check = await checkPdsRunning({ databases: [db] });
      expect(check.running).toBe(true);
      expect(check.reasons[0]).toContain(db);
      expect(check.reasons[0]).toMatch(/SQLITE_BUSY/);
    } finally {
      await holder.stop();
    }
  });

  it('sees a process that merely has the database open (an idle PDS)', async () => {
    const holder = await holdDatabase(db, 'idle');
    try {
      expect(databaseInUse(db)).toMatch(/SQLITE_BUSY/);
    } finally {
      await holder.stop();
    }
    expect(databaseInUse(db)).toBeNull();
  });

  it('sees a PDS that answers on its health URL, and none where nothing listens', async () => {
    const server = http.createServer((_req, res) => res.end('{"version":"0.1.0"}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/xrpc/_health`;
    try {
      expect(await probeHealthUrl(url)).toBe('HTTP 200');
      const check = await checkPdsRunning({ databases: [db], healthUrl: url });
      expect(check.reasons).toEqual([`the PDS answers at ${url} (HTTP 200)`]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await probeHealthUrl(url)).toBeNull();
  });
});

describe('stop and start commands', () => {
  it('runs a command through the shell and captures its output', async () => {
    const run = await runShellCommand('echo stopping && echo warn 1>&2');
    expect(run.exitCode).toBe(0);
    expect(run.output).toContain('stopping');
    expect(run.output).toContain('warn');
  });

  it('reports a failing command with its exit code and output', async () => {
    await expect(runRequiredCommand('stop', 'echo no such service; exit 3')).rejects.toThrow(/stop command "echo no such service; exit 3" failed \(exit code 3\)\.\nno such service/);
  });
});
