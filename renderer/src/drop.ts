/** Minimal view of a DataTransfer, so the logic can be tested without a DOM. */
export interface DroppedData {
  files: ArrayLike<File>;
  getData(format: string): string;
}

/** `file:///home/me/backup_1` → `/home/me/backup_1`; `file:///C:/b` → `C:/b`. Null for other URLs. */
export function pathFromFileUrl(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'file:') return null;
  const path = decodeURIComponent(url.pathname);
  const windowsDrive = /^\/[A-Za-z]:\//.test(path);
  if (url.host) return `//${url.host}${path}`; // a UNC share
  return windowsDrive ? path.slice(1) : path;
}

/**
 * The path of a folder dropped onto the window. Electron gives it for the dropped File (through the
 * preload); a browser does not, but Linux file managers put a `file://` URL in `text/uri-list`, and some
 * tools put the plain path in `text/plain`.
 */
export function pathFromDrop(data: DroppedData, pathForFile: ((file: File) => string) | null): string | null {
  const file = data.files[0];
  if (pathForFile && file) {
    const path = pathForFile(file);
    if (path) return path;
  }
  const uris = data
    .getData('text/uri-list')
    .split(/\r?\n/)
    .filter((line) => line.trim() && !line.startsWith('#'));
  for (const uri of uris) {
    const path = pathFromFileUrl(uri);
    if (path) return path;
  }
  const text = data.getData('text/plain').trim().split(/\r?\n/)[0]?.trim() ?? '';
  if (text.startsWith('file://')) return pathFromFileUrl(text);
  if (text.startsWith('/') || /^[A-Za-z]:[\\/]/.test(text) || text.startsWith('\\\\')) return text;
  return null;
}
