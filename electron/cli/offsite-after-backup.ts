import { countOf, formatBytes } from '../../shared/format.js';
import type { TargetCopyResult } from '../../shared/targets.js';
import type { CopyResult } from '../engine/targets/copy.js';
import { createProgressBar, type ProgressBar } from './progress-bar.js';
import { configuredTargets, targetContext, targetSpecFromArg } from './targets-config.js';

/** Exit status of `backup` when the backup succeeded but a copy to a target did not. */
export const OFFSITE_FAILED_EXIT = 3;

export interface CopyCommandOptions {
  json: boolean;
  signal: AbortSignal;
  /** `--bwlimit`: overrides each target's own limit. */
  bandwidthLimitKiBps?: number;
  /** false (`--no-prune`): no target's retention is applied. */
  prune?: boolean;
  /** Run by `backup`: the lines are indented under its own, and a failure says the backup itself is complete. */
  afterBackup?: boolean;
}

/**
 * `names` (configured names, URLs or folder paths) → their settings; none given: every enabled target of
 * the targets file. Throws a CliError for a name that is not a target.
 */
export async function targetsToCopyTo(names: readonly string[], values: Record<string, unknown>) {
  if (names.length === 0) return (await configuredTargets(values)).specs.filter((s) => s.enabled);
  const specs = [];
  for (const name of names) specs.push(await targetSpecFromArg(name, values));
  return specs;
}

/**
 * Copies a backup to each of `names` in turn, with a progress bar per target on a terminal and a line per
 * outcome. A target that fails is reported and the others are still tried; the local backup stands either way.
 */
export async function copyToNamedTargets(backupPath: string, names: readonly string[], values: Record<string, unknown>, opts: CopyCommandOptions): Promise<TargetCopyResult[]> {
  const specs = await targetsToCopyTo(names, values);
  if (specs.length === 0) return [];
  // Loaded only now, with the S3 and SFTP libraries: a backup without targets does not load them.
  const { copyToTargets } = await import('../engine/targets/offsite.js');
  const indent = opts.afterBackup ? '  ' : '';
  let bar: ProgressBar | null = null;
  try {
    return await copyToTargets(backupPath, specs, {
      context: targetContext(),
      bandwidthLimitKiBps: opts.bandwidthLimitKiBps,
      prune: opts.prune,
      signal: opts.signal,
      onTargetStart: (spec) => (bar = opts.json ? null : createProgressBar(process.stderr, `→ ${spec.name}`.slice(0, 12))),
      onProgress: (_target, p) => bar?.update(p),
      onTargetDone: (result, copy) => {
        bar?.finish();
        bar = null;
        if (opts.json) return;
        if (copy) {
          console.log(`${indent}${describeCopy(copy)}`);
          if (result.pruned.length) console.log(`${indent}  Removed from "${result.target}" by its retention: ${result.pruned.join(', ')}`);
          for (const failure of result.pruneFailures) console.log(`${indent}  Warning: ${failure}`);
        } else {
          const what = opts.afterBackup ? `the backup is complete, but the copy to "${result.target}" failed` : `copy to "${result.target}" failed`;
          console.error(`aurora-backup: ${what}: ${result.error}`);
        }
      },
    });
  } finally {
    (bar as ProgressBar | null)?.finish();
  }
}

export function describeCopy(result: CopyResult): string {
  if (result.alreadyThere) return `${result.backupName} is already on "${result.target}" (${result.location}); nothing sent.`;
  const kept = result.keptFiles ? `, ${countOf(result.keptFiles, 'file')} already there from an earlier attempt` : '';
  return `Copied ${result.backupName} to "${result.target}" (${result.location}): ${countOf(result.uploadedFiles, 'file')}, ${formatBytes(result.uploadedBytes)} sent${kept}.`;
}
