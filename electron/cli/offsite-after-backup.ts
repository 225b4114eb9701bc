import { EngineError } from '../engine/errors.js';
import { copyBackup } from '../engine/targets/copy.js';
import { describeCopy } from './commands/copy.js';
import { createProgressBar } from './progress-bar.js';
import { configuredTargets, targetFromArg } from './targets-config.js';

export interface OffsiteOutcome {
  target: string;
  ok: boolean;
  uploadedBytes?: number;
  pruned?: string[];
  error?: string;
}

/** Exit status of `backup` when the backup succeeded but a copy to a target did not. */
export const OFFSITE_FAILED_EXIT = 3;

/**
 * After a successful backup: a copy to each `--to` target, else to each enabled target of the targets
 * file. A target that fails is reported and the others are still tried; the local backup stands either way.
 */
export async function copyAfterBackup(backupPath: string, values: Record<string, unknown>, opts: { json: boolean; signal: AbortSignal }): Promise<OffsiteOutcome[]> {
  let names = (values.to as string[] | undefined) ?? [];
  if (names.length === 0) names = (await configuredTargets(values)).specs.filter((s) => s.enabled).map((s) => s.name);
  const outcomes: OffsiteOutcome[] = [];
  for (const name of names) {
    const { spec, target } = await targetFromArg(name, values);
    const bar = createProgressBar(process.stderr, `→ ${spec.name}`.slice(0, 12));
    try {
      const result = await copyBackup({
        backupPath,
        target,
        retention: spec.retention ?? null,
        bandwidthLimitKiBps: spec.bandwidthLimitKiBps,
        signal: opts.signal,
        onProgress: opts.json ? undefined : (p) => bar.update(p),
      });
      bar.finish();
      outcomes.push({ target: spec.name, ok: true, uploadedBytes: result.uploadedBytes, pruned: result.pruned });
      if (!opts.json) console.log(`  ${describeCopy(result)}${result.pruned.length ? ` Removed there by its retention: ${result.pruned.join(', ')}.` : ''}`);
    } catch (error) {
      bar.finish();
      if (!(error instanceof EngineError) || opts.signal.aborted) throw error;
      outcomes.push({ target: spec.name, ok: false, error: error.message });
      if (!opts.json) console.error(`aurora-backup: the backup is complete, but the copy to "${spec.name}" failed: ${error.message}`);
    } finally {
      await target.close();
    }
  }
  return outcomes;
}
