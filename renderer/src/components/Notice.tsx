import type { ReactNode } from 'react';
import { Icon } from './Icon.js';

/** A message in the flow of the page; errors are announced to screen readers. */
export function Notice({ tone, title, children }: { tone: 'error' | 'warning' | 'success' | 'info'; title?: string; children?: ReactNode }) {
  const icon = tone === 'success' ? 'check' : tone === 'info' ? 'info' : 'alert';
  return (
    <div className={`notice notice-${tone}`} role={tone === 'error' ? 'alert' : 'status'}>
      <Icon name={icon} />
      <div>
        {title ? <strong className="notice-title">{title}</strong> : null}
        {children ? <div className="notice-body">{children}</div> : null}
      </div>
    </div>
  );
}
