import { describe, expect, it } from 'vitest';
import { pathFromDrop, pathFromFileUrl } from './drop.js';

const dropped = (data: Record<string, string>, files: File[] = []) => ({ files, getData: (format: string) => data[format] ?? '' });

describe('pathFromDrop', () => {
  it('takes the path from a file manager’s text/uri-list, decoding it', () => {
    const data = dropped({ 'text/uri-list': '# dragged from Files\r\nfile:///srv/pds%20backups/backup_20250322_143022\r\n' });
    expect(pathFromDrop(data, null)).toBe('/srv/pds backups/backup_20250322_143022');
  });

  it('accepts a plain path in text/plain', () => {
    expect(pathFromDrop(dropped({ 'text/plain': '/var/backups/backup_1\n' }), null)).toBe('/var/backups/backup_1');
    expect(pathFromDrop(dropped({ 'text/plain': 'D:\\Backups\\backup_1' }), null)).toBe('D:\\Backups\\backup_1');
  });

  it('prefers the path Electron gives for the dropped file', () => {
    const file = new File([], 'backup_1');
    const data = dropped({ 'text/uri-list': 'file:///elsewhere' }, [file]);
    expect(pathFromDrop(data, (f) => (f === file ? '/from/electron/backup_1' : ''))).toBe('/from/electron/backup_1');
  });

  it('returns null for text or web links, which are not folders', () => {
    expect(pathFromDrop(dropped({ 'text/uri-list': 'https://example.com/backup_1', 'text/plain': 'hello' }), null)).toBeNull();
    expect(pathFromDrop(dropped({}), null)).toBeNull();
  });
});

describe('pathFromFileUrl', () => {
  it('turns Windows drive and UNC file URLs into paths', () => {
    expect(pathFromFileUrl('file:///C:/Backups/backup_1')).toBe('C:/Backups/backup_1');
    expect(pathFromFileUrl('file://nas/share/backup_1')).toBe('//nas/share/backup_1');
    expect(pathFromFileUrl('not a url')).toBeNull();
  });
});
