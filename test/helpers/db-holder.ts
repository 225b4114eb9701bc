import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';

const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * A separate process that keeps a database open like a running PDS: `idle` holds a WAL connection,
 * `writing` also sits inside an open write transaction. Resolves once the process holds it.
 */
export async function holdDatabase(file: string, mode: 'idle' | 'writing'): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const script = `
    const Database = require(${JSON.stringify(betterSqlite)});
    const db = new Database(${JSON.stringify(file)});
    db.pragma('journal_mode = WAL');
    if (${JSON.stringify(mode)} === 'writing') {
      db.exec('BEGIN IMMEDIATE');
      db.exec('CREATE TABLE IF NOT EXISTS holder_probe (x)');
      db.exec('INSERT INTO holder_probe VALUES (1)');
    }
    process.stdout.write('holding\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  if (!chunk.toString().includes('holding')) throw new Error(`holder did not start: ${chunk.toString()}`);
  return {
    child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/**
 * Writes `rows` into `table` of a WAL database and then dies without closing it, the way a crashed or
 * killed PDS leaves its data: the committed rows live only in the `-wal` file beside the database.
 */
export async function crashAfterWriting(file: string, table: string, rows: string[]): Promise<void> {
  const script = `
    const Database = require(${JSON.stringify(betterSqlite)});
    const db = new Database(${JSON.stringify(file)});
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE IF NOT EXISTS ${table} (value TEXT)');
    const insert = db.prepare('INSERT INTO ${table} VALUES (?)');
    for (const row of ${JSON.stringify(rows)}) insert.run(row);
    process.kill(process.pid, 'SIGKILL');
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'inherit' });
  await once(child, 'exit');
}
