// The tray, notifications and menu glue (electron/tray.ts, notifications.ts, menu.ts) against a recording
// stand-in for Electron: what they ask of Electron when the tray model changes, a notification is shown
// and closed, and a packaged app starts.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { TrayModel } from '../../electron/app/tray-model.js';

const calls = vi.hoisted(() => ({ contextMenus: 0, tooltips: [] as string[], applicationMenu: undefined as unknown, notifications: [] as WeakRef<object>[] }));

vi.mock('electron', () => {
  class Tray {
    on() {}
    setImage() {}
    setToolTip(text: string) {
      calls.tooltips.push(text);
    }
    setContextMenu() {
      calls.contextMenus++;
    }
  }
  class Notification {
    static isSupported = () => true;
    private handlers = new Map<string, () => void>();
    constructor() {
      calls.notifications.push(new WeakRef(this)); // weakly: only the code under test may keep it alive
    }
    on(event: string, handler: () => void) {
      this.handlers.set(event, handler);
    }
    emit(event: string) {
      this.handlers.get(event)?.();
    }
    show() {}
  }
  return {
    Tray,
    Notification,
    Menu: { buildFromTemplate: (template: unknown) => ({ template }), setApplicationMenu: (menu: unknown) => (calls.applicationMenu = menu) },
    nativeImage: { createFromPath: (file: string) => file },
  };
});

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
/** A full collection after the current job, so WeakRefs to unreachable objects are cleared. */
async function collect(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
}

beforeEach(() => {
  calls.contextMenus = 0;
  calls.tooltips = [];
  calls.applicationMenu = undefined;
  calls.notifications = [];
});

describe('tray', () => {
  const model = (percent: number, nextRun = 'Next backup: today 02:00'): TrayModel => ({
    icon: 'running',
    tooltip: `Aurora Locus Backup — backing up ${percent} %`,
    menu: [
      { type: 'action', action: 'backup-now', label: 'Back up now', enabled: false },
      { type: 'info', label: nextRun },
    ],
  });

  it('rebuilds its menu only when the items change, not on every percent', async () => {
    const { createTray } = await import('../../electron/tray.js');
    const tray = createTray('/icons', () => {});
    for (let percent = 0; percent <= 100; percent++) tray.show(model(percent));
    expect(calls.contextMenus).toBe(1);
    expect(calls.tooltips).toHaveLength(101);
    tray.show(model(100));
    expect(calls.tooltips).toHaveLength(101);
    tray.show(model(100, 'Next backup: tomorrow 02:00'));
    expect(calls.contextMenus).toBe(2);
  });
});

describe('notifications', () => {
  it('keeps a shown notification alive until it is closed, so its click still reaches the app', async () => {
    const { showNotice } = await import('../../electron/notifications.js');
    const clicked: string[] = [];
    showNotice({ condition: 'failure', title: 'Backup failed', body: 'disk full', view: 'history' }, '/icons/failed.png', (n) => clicked.push(n.title));
    await collect();
    const emit = (index: number, event: string) => (calls.notifications[index]!.deref() as { emit(event: string): void } | undefined)?.emit(event);
    emit(0, 'click');
    expect(clicked).toEqual(['Backup failed']);

    showNotice({ condition: 'stale', title: 'Backups are old', body: '3 days', view: 'overview' }, '/icons/stale.png', () => {});
    emit(1, 'close');
    await collect();
    expect(calls.notifications.map((ref) => ref.deref())).toEqual([undefined, undefined]);
  });
});

describe('application menu', () => {
  it('a packaged app gets a menu without Reload or the developer tools; development keeps the default', async () => {
    const { setApplicationMenu } = await import('../../electron/menu.js');
    setApplicationMenu(false);
    expect(calls.applicationMenu).toBeUndefined();
    setApplicationMenu(true);
    const roles = (calls.applicationMenu as { template: { role: string }[] }).template.map((item) => item.role);
    expect(roles).toContain('editMenu');
    for (const role of ['viewMenu', 'reload', 'forceReload', 'toggleDevTools']) expect(roles).not.toContain(role);
  });
});
