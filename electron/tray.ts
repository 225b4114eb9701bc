import path from 'node:path';
import { Menu, Tray, nativeImage, type MenuItemConstructorOptions } from 'electron';
import type { TrayAction, TrayIcon, TrayModel } from './app/tray-model.js';

/** build/tray-<state>.png; macOS uses the black …Template.png so the menu bar tints it, Windows the .ico. */
function iconFile(iconDir: string, icon: TrayIcon): string {
  if (process.platform === 'darwin') return path.join(iconDir, `tray-${icon}Template.png`);
  if (process.platform === 'win32') return path.join(iconDir, `tray-${icon}.ico`);
  return path.join(iconDir, `tray-${icon}.png`);
}

/** The tray icon, showing whatever TrayModel (electron/app/tray-model.ts) says. */
export function createTray(iconDir: string, onAction: (action: TrayAction) => void): { show(model: TrayModel): void } {
  let tray: Tray | null = null;
  let shownIcon: TrayIcon | null = null;
  let shownTooltip: string | null = null;
  let shownMenu: string | null = null;
  return {
    show(model) {
      const image = () => nativeImage.createFromPath(iconFile(iconDir, model.icon));
      if (!tray) {
        tray = new Tray(image());
        tray.on('click', () => onAction('open'));
      } else if (shownIcon !== model.icon) tray.setImage(image());
      shownIcon = model.icon;
      if (shownTooltip !== model.tooltip) tray.setToolTip(model.tooltip);
      shownTooltip = model.tooltip;
      // The model is set on every progress event; the menu is rebuilt only when its items change.
      const menu = JSON.stringify(model.menu);
      if (menu === shownMenu) return;
      shownMenu = menu;
      const items: MenuItemConstructorOptions[] = model.menu.map((item) =>
        item.type === 'separator'
          ? { type: 'separator' }
          : item.type === 'info'
            ? { label: item.label, enabled: false }
            : { label: item.label, enabled: item.enabled, click: () => onAction(item.action) },
      );
      tray.setContextMenu(Menu.buildFromTemplate(items));
    },
  };
}
