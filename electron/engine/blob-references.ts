/**
 * Which blobs an actor store's records use, so that a backup (and `verify --deep`) can prove its blob
 * archive holds every image its databases point at. The reference PDS (and the fixture, which models
 * it) records each use in `record_blob (blobCid, recordUri)`; a blob taken down (`blob.takedownRef`) is
 * moved out of the blob store, so it is not required. Blobs live at `<blob store>/<did>/<cid>`.
 */

/** Single-value queries for an actor store (see snapshot.ts / integrity.ts): its DID and its blob uses. */
export const BLOB_REFERENCE_QUERIES: Record<string, string> = {
  did: 'SELECT did FROM repo_root LIMIT 1',
  // One record per blob is enough to name it; `cid record` lines.
  blobRefs:
    "SELECT group_concat(blobCid || ' ' || recordUri, char(10)) FROM (SELECT rb.blobCid AS blobCid, min(rb.recordUri) AS recordUri " +
    'FROM record_blob rb LEFT JOIN blob b ON b.cid = rb.blobCid WHERE b.takedownRef IS NULL GROUP BY rb.blobCid)',
  // A schema without blob.takedownRef: every use counts.
  blobRefsAll: "SELECT group_concat(blobCid || ' ' || recordUri, char(10)) FROM (SELECT blobCid, min(recordUri) AS recordUri FROM record_blob GROUP BY blobCid)",
};

export interface BlobReference {
  did: string;
  cid: string;
  /** A record that uses the blob: `at://did/app.bsky.feed.post/rkey`. */
  record: string;
}

/**
 * The blob uses in the answers to BLOB_REFERENCE_QUERIES. `storeDir` (the actor store's folder,
 * `actors/ab/did:plc:xyz` or the fixture's `did_plc_xyz`) gives the DID when the store has no repo_root.
 */
export function referencesFrom(answers: Record<string, unknown>, storeDir: string): BlobReference[] {
  const lines = answers.blobRefs ?? answers.blobRefsAll;
  if (typeof lines !== 'string' || lines === '') return [];
  const did = typeof answers.did === 'string' && answers.did !== '' ? answers.did : didFromFolder(storeDir);
  return lines.split('\n').map((line) => {
    const space = line.indexOf(' ');
    return { did, cid: line.slice(0, space), record: line.slice(space + 1) };
  });
}

function didFromFolder(storeDir: string): string {
  const name = storeDir.split(/[\\/]/).filter(Boolean).pop() ?? '';
  return name.startsWith('did:') ? name : name.replace(/^did_([a-z0-9]+)_/, 'did:$1:');
}

/** Where a blob sits below the blob store (and below the blob archive's top folder), '/'-separated. */
export const blobPath = (ref: BlobReference) => `${ref.did}/${ref.cid}`;

/** The uses whose blob is not in `stored` (paths as blobPath gives them). */
export function missingBlobs(references: Iterable<BlobReference>, stored: ReadonlySet<string>): BlobReference[] {
  const missing: BlobReference[] = [];
  for (const ref of references) if (!stored.has(blobPath(ref))) missing.push(ref);
  return missing;
}

/** "3 blobs that records use are not in blobs.tar.gz: bafk… (used by at://…), …", at most 5 named. */
export function describeMissing(missing: BlobReference[], archive: string): string {
  const shown = missing.slice(0, 5).map((ref) => `${ref.did}/${ref.cid} (used by ${ref.record})`);
  const more = missing.length > shown.length ? `, and ${missing.length - shown.length} more` : '';
  const count = missing.length === 1 ? '1 blob that a record uses is' : `${missing.length} blobs that records use are`;
  return `${count} not in ${archive}: ${shown.join(', ')}${more}`;
}
