#!/usr/bin/env bash
# Practice export speed and memory (issue 17).
#   bench_export.sh
#   A practice of ~300 MB of SQL (EXPORT_MB) and ~20 MB of documents, backed up once; then
#   `drbackup export` (restore into a scratch server, SQL + CSV + documents into an AES-256 zip)
#   against the reference a practice would otherwise get: `mariadb-dump` of the same data from a
#   running server, then `7z a -tzip -p -mem=AES256` of the result (which leaves the plaintext
#   dump on disk; the export does not). drbackup's own peak RSS (VmHWM of its process, not of
#   the scratch mariadbd it starts) must stay <= 64 MiB.
# Runs alternate, ROUNDS times (default 3); medians are reported.
. "$(dirname "$0")/lib.sh"
need 7z "apt-get install p7zip-full"
need bsdtar "apt-get install libarchive-tools"
MB=${EXPORT_MB:-300}
DUMP="mariadb-dump --no-defaults -uroot -S $WORK/src/s.sock --single-transaction --routines --triggers --events --hex-blob"

start_server src --log-bin="$WORK/src/data/mysql-bin"
keys_and_config src
docs=$WORK/sites/practice_1/documents
cat >>"$WORK/drbackup.conf" <<CONF
export { documents_dir = "$WORK/sites/{practice}/documents" }
CONF
printf 'bench passphrase for the export\n' >"$WORK/pass"
chmod 600 "$WORK/pass"

echo "== one practice, ~$MB MB of SQL, ~20 MB of documents"
make_practices src 1 "$MB"
mkdir -p "$docs/2026/11"
for i in $(seq 1 40); do head -c 500000 /dev/urandom >"$docs/2026/11/scan-$i.pdf"; done
echo "   dump size: $(( $($DUMP --databases practice_1 | wc -c) / 1048576 )) MiB"
"$DRB" -c "$WORK/drbackup.conf" -q full

# peak RSS of the drbackup process itself (the scratch server is a child with its own memory)
drb_self() {  # drb_self LABEL ARGS...: time and VmHWM of one drbackup run
  local label=$1; shift
  local t0 t1 pid peak=0 v
  t0=$(now)
  "$DRB" "$@" >/dev/null 2>"$WORK/err.export" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$v" ] && [ "$v" -gt "$peak" ] && peak=$v
    sleep 0.1
  done
  wait "$pid" || { echo "bench: '$label' failed:" >&2; tail -5 "$WORK/err.export" >&2; exit 1; }
  t1=$(now)
  echo "$label $(echo "$t1 - $t0" | bc -l) $peak" >>"$WORK/results"
}

for r in $(seq "$ROUNDS"); do
  rm -f "$WORK/export.zip" "$WORK/ref.zip" "$WORK/ref.sql"
  drb_self export:drbackup -c "$WORK/drbackup.conf" -q export --practice practice_1 \
    --out "$WORK/export.zip" --passphrase-file "$WORK/pass"
  measure export:dump+7z "$DUMP --databases practice_1 > $WORK/ref.sql && 7z a -tzip -bd -p'bench passphrase for the export' -mem=AES256 $WORK/ref.zip $WORK/ref.sql $docs >/dev/null"
done
echo "   archive: drbackup $(( $(stat -c %s "$WORK/export.zip") / 1048576 )) MiB (SQL + CSV + documents), reference $(( $(stat -c %s "$WORK/ref.zip") / 1048576 )) MiB (SQL + documents)"
bsdtar -tf "$WORK/export.zip" --passphrase 'bench passphrase for the export' | sed 's/^/   /' | head -8
report export:drbackup export:dump+7z "drbackup's own RSS <= 64 MiB"
