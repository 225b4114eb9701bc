import { Icon } from './Icon.js';

export type BadgeTone = 'ok' | 'failed' | 'stale' | 'running' | 'none';

export function StatusBadge({ tone, children }: { tone: BadgeTone; children: string }) {
  const icon = tone === 'ok' ? 'check' : tone === 'failed' ? 'cross' : tone === 'stale' ? 'alert' : null;
  return (
    <span className={`badge badge-${tone}`}>
      {icon ? <Icon name={icon} size={14} /> : <span className="badge-dot" aria-hidden="true" />}
      {children}
    </span>
  );
}
