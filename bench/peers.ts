// The tools we compare against, as shell steps: the guide's own pipeline (scripts/backup.sh and
// restore.sh of the original backup guide), restic, and the physical floors. Each writes only below
// the paths it is given. Every writer ends with `sync -f`, because our backup and restore flush
// their files to disk too; a comparison against data still in the page cache would not be fair.

/** `gzip -c` of each database file and `tar -czf` of blobs/ and actors/, as backup.sh does. */
export const GUIDE_BACKUP = `
data="$1"; out="$2"
mkdir -p "$out/databases"
for db in account sequencer did_cache; do gzip -c "$data/$db.sqlite" > "$out/databases/$db.sqlite.gz"; done
tar -czf "$out/blobs.tar.gz" -C "$data" blobs
tar -czf "$out/actors.tar.gz" -C "$data" actors
sync -f "$out/blobs.tar.gz"
`;

/** `gunzip -c` of each database and `tar -xzf` of the archives into an empty directory, as restore.sh does. */
export const GUIDE_RESTORE = `
backup="$1"; target="$2"
mkdir -p "$target"
for db in account sequencer did_cache; do gunzip -c "$backup/databases/$db.sqlite.gz" > "$target/$db.sqlite"; done
tar -xzf "$backup/blobs.tar.gz" -C "$target"
tar -xzf "$backup/actors.tar.gz" -C "$target"
sync -f "$target/account.sqlite"
`;

/** Reading every byte of the data directory once: no tool that reads the data can be faster. */
export const READ_FLOOR = `find "$1" -type f -print0 | xargs -0 cat > /dev/null`;

/** Reading every byte once and writing it once, uncompressed, flushed: the floor for any backup that copies. */
export const COPY_FLOOR = `tar -cf "$2" -C "$1" . && sync -f "$2"`;

export const RESTIC_BACKUP = `restic backup --quiet "$1"`;
export const RESTIC_RESTORE = `restic restore latest --quiet --target "$1" && sync -f "$1"`;
