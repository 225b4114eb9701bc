import { Notification } from 'electron';
import type { Notice } from './app/platform.js';

/** Shows a notice (decided by electron/app/notification-policy.ts); clicking it calls onClick. */
export function showNotice(notice: Notice, icon: string, onClick: (notice: Notice) => void): void {
  if (!Notification.isSupported()) return;
  const notification = new Notification({ title: notice.title, body: notice.body, icon, urgency: notice.condition === 'failure' ? 'critical' : 'normal' });
  notification.on('click', () => onClick(notice));
  notification.show();
}
