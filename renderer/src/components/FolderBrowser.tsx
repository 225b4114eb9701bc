import { useEffect, useRef, useState } from 'react';
import type { FolderListing } from '../../../shared/api.js';
import { useApi } from '../api/client.js';
import { errorText } from '../errors.js';
import { Icon } from './Icon.js';
import { Modal } from './Modal.js';
import { Notice } from './Notice.js';

/**
 * Chooses a folder on the machine the app runs on, through the API (the browser has no dialog that can
 * show that machine's folders). For a backup (`title` default), folders holding a manifest.json can be
 * opened; otherwise (`folder`) the folder shown is chosen with a button. Starts at `start` when it can be
 * read, else in the backup folder.
 */
export function FolderBrowser({ onChoose, onClose, folder: pickAny, title = 'Choose a backup folder', start }: { onChoose: (path: string) => void; onClose: () => void; folder?: boolean; title?: string; start?: string }) {
  const api = useApi();
  const [listing, setListing] = useState<FolderListing | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const closeButton = useRef<HTMLButtonElement>(null);

  const go = (path?: string) => {
    setProblem(null);
    api.listFolders(path === undefined ? {} : { path }).then(setListing, (error: unknown) => setProblem(errorText(error)));
  };
  useEffect(() => {
    // A folder typed before may not exist yet: then the browser starts where it can.
    if (start) api.listFolders({ path: start }).then(setListing, () => go());
    else go();
  }, []);

  return (
    <Modal labelledBy="folder-browser-title" onClose={onClose} initialFocus={closeButton} className="folder-browser">
      <h2 id="folder-browser-title" className="card-title">
        {title}
      </h2>
      <p className="muted small-path" aria-live="polite">
        {listing?.path ?? 'Reading…'}
      </p>
      {problem ? <Notice tone="error">{problem}</Notice> : null}
      <ul className="folder-list" aria-label="Folders">
        {listing?.parent ? (
          <li>
            <button type="button" className="folder-entry" onClick={() => go(listing.parent!)}>
              <Icon name="restore" size={16} /> Up to {listing.parent}
            </button>
          </li>
        ) : null}
        {listing?.folders.map((folder) => (
          <li key={folder.path}>
            {folder.backup && !pickAny ? (
              <button type="button" className="folder-entry backup" onClick={() => onChoose(folder.path)}>
                <Icon name="backups" size={16} /> {folder.name} <span className="muted">— open this backup</span>
              </button>
            ) : (
              <button type="button" className="folder-entry" onClick={() => go(folder.path)}>
                <Icon name="folder" size={16} /> {folder.name}
              </button>
            )}
          </li>
        ))}
        {listing && listing.folders.length === 0 ? <li className="muted">No folders here.</li> : null}
      </ul>
      <div className="button-row">
        <button type="button" className="button" ref={closeButton} onClick={onClose}>
          Cancel
        </button>
        {pickAny && listing ? (
          <button type="button" className="button primary" onClick={() => onChoose(listing.path)}>
            Choose this folder
          </button>
        ) : null}
      </div>
    </Modal>
  );
}
