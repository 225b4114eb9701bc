import { Menu, type MenuItemConstructorOptions } from 'electron';

/**
 * The packaged app's menu: Electron's default one has View ▸ Reload and Toggle Developer Tools, which
 * must not reach users (a reload drops the window's state; DevTools open the app's internals). Edit stays:
 * on macOS copy and paste in the window's fields work only through it. Development keeps the default.
 */
export function setApplicationMenu(packaged: boolean): void {
  if (!packaged) return;
  const template: MenuItemConstructorOptions[] =
    process.platform === 'darwin' ? [{ role: 'appMenu' }, { role: 'editMenu' }, { role: 'windowMenu' }] : [{ role: 'fileMenu' }, { role: 'editMenu' }];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}
