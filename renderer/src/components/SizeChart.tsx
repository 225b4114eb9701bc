import type { BackupSummary } from '../../../shared/api.js';
import { formatBytes, formatDateTime } from '../format.js';

const WIDTH = 640;
const HEIGHT = 150;
const TOP = 18;
const BOTTOM = 22;

/** Bars of backup size, oldest on the left; a sudden drop or jump is what the eye should catch. */
export function SizeChart({ backups }: { backups: BackupSummary[] }) {
  const points = [...backups].filter((b) => b.status === 'complete').reverse().slice(-40);
  if (points.length === 0) return null;
  const max = Math.max(...points.map((b) => b.size), 1);
  const slot = WIDTH / points.length;
  const barWidth = Math.min(36, slot * 0.7);
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const summary = `Backup size over time: ${points.length} backups, from ${formatBytes(first.size)} on ${formatDateTime(first.createdAt)} to ${formatBytes(last.size)} on ${formatDateTime(last.createdAt)}.`;
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
        <span>{formatDateTime(first.createdAt)}</span>
        <span>largest {formatBytes(max)}</span>
        <span>{formatDateTime(last.createdAt)}</span>
      </figcaption>
    </figure>
  );
}
