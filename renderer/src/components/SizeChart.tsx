import type { BackupSummary } from '../../../shared/api.js';
import { formatBytes, formatDateTime } from '../format.js';

const WIDTH = 640;
const HEIGHT = 120;
/** At least this many slots, so two backups look like two bars, not two walls. */
const MIN_SLOTS = 14;
const TOP = 18;
const BOTTOM = 2;

/** Bars of backup size, oldest on the left; a sudden drop or jump is what the eye should catch. */
export function SizeChart({ backups }: { backups: BackupSummary[] }) {
  const points = [...backups].filter((b) => b.status === 'complete').reverse().slice(-40);
  if (points.length === 0) return null;
  const max = Math.max(...points.map((b) => b.size), 1);
  const slot = WIDTH / Math.max(points.length, MIN_SLOTS);
  const barWidth = slot * 0.62;
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const count = points.length === 1 ? '1 backup' : `${points.length} backups`;
  const summary = `Backup size over time: ${count}, from ${formatBytes(first.size)} on ${formatDateTime(first.createdAt)} to ${formatBytes(last.size)} on ${formatDateTime(last.createdAt)}.`;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary}>
        <line className="chart-grid" x1={0} x2={WIDTH} y1={TOP} y2={TOP} />
        <line className="chart-grid" x1={0} x2={WIDTH} y1={(TOP + HEIGHT - BOTTOM) / 2} y2={(TOP + HEIGHT - BOTTOM) / 2} />
        <line className="chart-axis" x1={0} x2={WIDTH} y1={HEIGHT - BOTTOM} y2={HEIGHT - BOTTOM} />
        {points.map((backup, index) => {
          const height = Math.max(2, (backup.size / max) * (HEIGHT - TOP - BOTTOM));
          return (
            <rect
              key={backup.name}
              className="chart-bar"
              x={index * slot + (slot - barWidth) / 2}
              y={HEIGHT - BOTTOM - height}
              width={barWidth}
              height={height}
              rx={3}
            >
              <title>{`${formatDateTime(backup.createdAt)}: ${formatBytes(backup.size)}`}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption className="chart-caption">
        <span>
          {count} since {formatDateTime(first.createdAt)}
        </span>
        <span>
          newest {formatBytes(last.size)} · largest {formatBytes(max)}
        </span>
      </figcaption>
    </figure>
  );
}
