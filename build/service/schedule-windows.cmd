@echo off
rem Registers a backup every day at 02:00 with the Windows Task Scheduler, for the current user.
rem Run once in a command prompt after `npm install -g aurora-locus-backup-<version>.tgz`; adjust the
rem .env path to your PDS. Check with: schtasks /Query /TN "Aurora Locus Backup"
for /f "delims=" %%p in ('where aurora-backup.cmd') do set "AURORA_BACKUP=%%p"
schtasks /Create /F /TN "Aurora Locus Backup" /SC DAILY /ST 02:00 /TR "\"%AURORA_BACKUP%\" backup --env-file C:\aurora-locus\.env"
