import { useEffect, useState } from 'react';
import type { View } from '../../shared/api.js';

/** The current time, refreshed every `everyMs`, so "5 minutes ago" stays true. */
export function useNow(everyMs = 15_000): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

export const VIEWS: { id: View; label: string }[] = [
  { id: 'overview', label: 'Overview' },
  { id: 'backups', label: 'Backups' },
  { id: 'restore', label: 'Restore' },
  { id: 'settings', label: 'Settings' },
  { id: 'history', label: 'History & logs' },
];

const viewFromHash = (): View => {
  const id = window.location.hash.slice(1);
  return VIEWS.some((v) => v.id === id) ? (id as View) : 'overview';
};

/** Opens a view. It lives in the URL's #fragment, so a reload (or the browser's Back) keeps it. */
export function showView(view: View): void {
  window.location.hash = view;
}

export function useView(): View {
  const [view, setView] = useState<View>(viewFromHash);
  useEffect(() => {
    const onHash = () => setView(viewFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  return view;
}
