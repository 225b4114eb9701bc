#!/bin/bash
# test-backup.sh - Automated backup verification
# Copied verbatim from the backup & recovery guide ("Testing Backups" → "Automated Testing").

BACKUP_DIR="$1"

echo "Testing backup: $BACKUP_DIR"

# Test manifest exists
if [ ! -f "$BACKUP_DIR/manifest.json" ]; then
    echo "❌ Manifest missing"
    exit 1
fi

# Test database files
for db in account sequencer did_cache; do
    if ! gunzip -t "$BACKUP_DIR/databases/${db}.sqlite.gz" 2>/dev/null; then
        echo "❌ Database $db corrupted"
        exit 1
    fi
done

# Test archives
for archive in blobs actors; do
    if ! tar -tzf "$BACKUP_DIR/${archive}.tar.gz" > /dev/null 2>&1; then
        echo "❌ Archive $archive corrupted"
        exit 1
    fi
done

echo "✅ Backup verification passed"
