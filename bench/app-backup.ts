// One backup the way the desktop app runs it (controller, job worker, history, progress relay), in a
// process of its own, reporting the event-loop delay of the app's main thread. The bench runs it bundled
// as the app is (app-backup.mjs, with the bundled job worker beside it):
//   node app-backup.mjs <dataDir> <backupDir> <userDataDir>
// (`node --import tsx bench/app-backup.ts …` runs it from the sources, the job worker through tsx.)
import { measureAppBackup } from '../electron/app/event-loop.js';

const [dataDir, backupDir, userDataDir] = process.argv.slice(2);
if (!dataDir || !backupDir || !userDataDir) {
  console.error('usage: app-backup.ts <dataDir> <backupDir> <userDataDir>');
  process.exit(2);
}
const started = performance.now();
const { entry, delay, progressEvents } = await measureAppBackup({ dataDir, backupDir, userDataDir });
if (entry.result !== 'success') {
  console.error(`the app's backup ended with "${entry.result}": ${entry.error ?? ''}`);
  process.exit(1);
}
// measureEventLoopDelay samples every 10 ms and its histogram includes that interval: subtract it.
const RESOLUTION_MS = 10;
const late = (ms: number) => Math.max(0, Math.round((ms - RESOLUTION_MS) * 100) / 100);
console.log(
  JSON.stringify({
    durationMs: performance.now() - started,
    progressEvents,
    eventLoop: { p50Ms: late(delay.p50Ms), p99Ms: late(delay.p99Ms), maxMs: late(delay.maxMs) },
  }),
);
