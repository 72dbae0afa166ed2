#!/usr/bin/env bash
# Restore speed and memory (issues: restore, parallel practices).
#   bench_restore.sh [one|many|all]
#   one:  one practice of ~400 MB of SQL: `drbackup restore --to latest` against
#         `mariadb < the plain dump` (target <= 1.15x, peak RSS <= 64 MiB)
#   many: 8 practices of ~50 MB: `drbackup restore --to latest` (jobs = cores) against
#         `mariadb < the plain dump` (target <= 0.60x) and myloader -t 2 when installed
#         (target: no slower)
# The target server has no binary log, so no contender pays for one; runs alternate.
. "$(dirname "$0")/lib.sh"
what=${1:-all}
DUMP="mariadb-dump --no-defaults -uroot -S $WORK/src/s.sock --single-transaction --master-data=2 --gtid --routines --triggers --events --hex-blob"

start_server src --log-bin="$WORK/src/data/mysql-bin"
start_server dst --skip-log-bin
keys_and_config src

drop_all() { for db in $(sql dst -N -e "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'practice\\_%'"); do sql dst -e "DROP DATABASE \`$db\`"; done; }

bench() {  # bench NAME COUNT MB TARGET
  local name=$1 count=$2 mb=$3 target=$4
  echo "== $name: $count practice(s) of ~$mb MB of SQL"
  make_practices src "$count" "$mb"
  local dbs; dbs=$(seq -f 'practice_%g' 1 "$count" | tr '\n' ' ')
  "$DRB" -c "$WORK/drbackup.conf" -q full
  sql src -e "UPDATE practice_1.patient_data SET notes = CONCAT(notes, '+') WHERE pid <= 1000"
  "$DRB" -c "$WORK/drbackup.conf" -q binlog
  $DUMP --databases $dbs >"$WORK/plain.sql"
  echo "   dump size: $(( $(stat -c %s "$WORK/plain.sql") / 1048576 )) MiB"
  local have_myloader=0
  if command -v myloader >/dev/null && command -v mydumper >/dev/null; then
    mydumper -S "$WORK/src/s.sock" -u root --regex '^practice_' -o "$WORK/mydumper" -t 2 >/dev/null 2>&1 && have_myloader=1
  fi
  for r in $(seq "$ROUNDS"); do
    drop_all
    measure "$name:drbackup" "$DRB -c $WORK/drbackup.conf -q restore --to latest --target-socket $WORK/dst/s.sock --target-user root --force ${RESTORE_JOBS:+--jobs $RESTORE_JOBS}"
    drop_all
    measure "$name:mariadb<dump" "mariadb --no-defaults -uroot -S $WORK/dst/s.sock < $WORK/plain.sql"
    if [ $have_myloader = 1 ]; then
      drop_all
      measure "$name:myloader" "myloader -S $WORK/dst/s.sock -u root -d $WORK/mydumper -t 2 -o"
    fi
  done
  report "$name:drbackup" "$name:mariadb<dump" "$target"
  [ $have_myloader = 1 ] && report "$name:drbackup" "$name:myloader" "<= 1.00x"
  for db in $dbs; do sql src -e "DROP DATABASE $db"; done
  rm -rf "${WORK:?}"/r1/* "${WORK:?}"/r2/* "$WORK/mydumper" "$WORK/plain.sql"
  rm -f "$WORK/spool/binlog-state.json"
}

case $what in
  one) bench one 1 "${ONE_MB:-400}" "<= 1.15x, RSS <= 64 MiB" ;;
  many) bench many 8 "${MANY_MB:-50}" "<= 0.60x, RSS <= 64 MiB" ;;
  all) bench one 1 "${ONE_MB:-400}" "<= 1.15x, RSS <= 64 MiB"; bench many 8 "${MANY_MB:-50}" "<= 0.60x, RSS <= 64 MiB" ;;
  *) echo "usage: $0 [one|many|all]" >&2; exit 2 ;;
esac
