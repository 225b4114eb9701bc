import { Notification } from 'electron';
import type { Notice } from './app/platform.js';

/** Every notification on screen: one that is no longer referenced is collected, and its click handler with it. */
const shown = new Set<Notification>();

/** Shows a notice (decided by electron/app/notification-policy.ts); clicking it calls onClick. */
export function showNotice(notice: Notice, icon: string, onClick: (notice: Notice) => void): void {
  if (!Notification.isSupported()) return;
  const notification = new Notification({ title: notice.title, body: notice.body, icon, urgency: notice.condition === 'failure' ? 'critical' : 'normal' });
  const forget = () => shown.delete(notification);
  notification.on('click', () => {
    forget();
    onClick(notice);
  });
  notification.on('close', forget);
  notification.on('failed', forget);
  shown.add(notification);
  notification.show();
}
