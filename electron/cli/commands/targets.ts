import { describeTarget } from '../../../shared/targets.js';
import { EngineError } from '../../engine/errors.js';
import { openTarget } from '../../engine/targets/open.js';
import { CliError, type Command } from '../command.js';
import { configuredTargets, TARGET_OPTIONS, targetOptionsHelp, TARGET_URL_HELP, targetContext, targetFromArg } from '../targets-config.js';

const help = `Usage: aurora-backup targets [TARGET …] [--test] [--targets FILE] [--ssh-key FILE] [--json]

Lists the off-site targets of the targets file (the app's targets.json, or --targets FILE): name, kind,
where it points (never a secret), retention. With --test, connects to each (or to the TARGETs given)
and checks that it can list and write there; an SFTP server's host key is shown and pinned the first
time, and a server presenting another key later is refused.

${TARGET_URL_HELP}

A targets file:
  {"targets": [
    {"name": "usb", "type": "folder", "path": "/mnt/usb/aurora", "retention": {"retainDays": 90, "keepLast": 5}},
    {"name": "b2", "type": "s3", "bucket": "my-bucket", "prefix": "aurora/", "region": "eu-central-003",
     "endpoint": "https://s3.eu-central-003.backblazeb2.com", "forcePathStyle": true},
    {"name": "nas", "type": "sftp", "host": "nas.local", "port": 22, "username": "backup",
     "path": "/volume1/aurora", "privateKeyFile": "/home/me/.ssh/id_ed25519", "bandwidthLimitKiBps": 2048}
  ]}
S3 keys come from accessKeyId/secretAccessKey, a profile/credentialsFile, or else AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY. Keep such a file readable by you alone.

Options:
  --test              Connect to each target and report
${targetOptionsHelp(22)}
  --json              Print the targets (and test results) as JSON on stdout

Exit status with --test: 0 when every target answered, 1 otherwise.`;

export const command: Command = {
  summary: 'List the off-site targets and test the connection to them',
  help,
  options: { ...TARGET_OPTIONS, test: { type: 'boolean' }, json: { type: 'boolean' } },
  async run({ values, positionals }) {
    const { specs, file } = await configuredTargets(values);
    const chosen = positionals.length ? await Promise.all(positionals.map(async (p) => (await targetFromArg(p, values)).spec)) : specs;
    if (chosen.length === 0) {
      console.log(file ? `${file} has no targets.` : 'No targets are configured. Add them to the app\'s targets.json or pass --targets FILE; see aurora-backup targets --help.');
      return 0;
    }
    const rows: { name: string; type: string; location: string; enabled: boolean; retention: string; ok?: boolean; detail?: string }[] = [];
    for (const spec of chosen) {
      const row = {
        name: spec.name,
        type: spec.type,
        location: describeTarget(spec),
        enabled: spec.enabled,
        retention: spec.retention ? `${spec.retention.retainDays} days, keep ${spec.retention.keepLast}` : 'none',
      };
      if (!values.test) {
        rows.push(row);
        continue;
      }
      const target = openTarget(spec, targetContext());
      try {
        rows.push({ ...row, ok: true, detail: await target.test() });
      } catch (error) {
        if (!(error instanceof EngineError)) throw error;
        rows.push({ ...row, ok: false, detail: error.message });
      } finally {
        await target.close();
      }
    }
    if (values.json) {
      console.log(JSON.stringify({ file, targets: rows }, null, 2));
    } else {
      if (file && !positionals.length) console.log(`Targets in ${file}:\n`);
      for (const row of rows) {
        console.log(`${row.name}  (${row.type}${row.enabled ? '' : ', disabled'})  ${row.location}  retention: ${row.retention}`);
        if (row.ok !== undefined) console.log(`  ${row.ok ? 'ok' : 'FAILED'}: ${row.detail}`);
      }
    }
    if (values.test && rows.some((r) => !r.ok)) {
      if (!values.json) throw new CliError(`${rows.filter((r) => !r.ok).length} of ${rows.length} targets could not be reached or written.`);
      return 1;
    }
    return 0;
  },
};
