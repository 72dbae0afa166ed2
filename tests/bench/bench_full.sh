#!/usr/bin/env bash
# Full backup speed and memory (issues: agent, parallel practices).
#   bench_full.sh [one|many|all]
#   one:  one practice database of ~400 MB of SQL: `drbackup full` to two posix repositories
#         against `mariadb-dump | zstd -3 -T2 > file` (target <= 1.10x, peak RSS <= 64 MiB), and
#         against `mariadb-dump | zstd | age | aws s3 cp -` and `mariadb-dump | restic backup
#         --stdin` (target: faster than both)
#   many: 8 practices of ~50 MB each: `drbackup full` (jobs = cores) against
#         `mariadb-dump --databases ... | zstd -3 -T2 > file` (target <= 0.75x)
# Runs alternate, ROUNDS times (default 3); medians are reported.
. "$(dirname "$0")/lib.sh"
what=${1:-all}
DUMP="mariadb-dump --no-defaults -uroot -S $WORK/src/s.sock --single-transaction --master-data=2 --gtid --routines --triggers --events --hex-blob"

start_server src --log-bin="$WORK/src/data/mysql-bin"
keys_and_config src

run_one() {
  echo "== one practice database, ~${ONE_MB:-400} MB of SQL"
  make_practices src 1 "${ONE_MB:-400}"
  local size; size=$($DUMP --databases practice_1 | wc -c)
  echo "   dump size: $((size / 1048576)) MiB"
  local s3dir="$WORK/s3" port=$((20000 + RANDOM % 20000)) have_s3=0
  if [ -e "$top/tests/node_modules/s3rver/bin/s3rver.js" ] && [ -x /usr/bin/aws ] && command -v age >/dev/null; then
    mkdir -p "$s3dir"
    node --openssl-legacy-provider "$top/tests/node_modules/s3rver/bin/s3rver.js" -d "$s3dir" -a 127.0.0.1 \
      -p "$port" -s --configure-bucket bench >/dev/null 2>&1 &
    echo $! >"$WORK/s3.pid"; servers+=("$WORK/s3.pid")
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
    age-keygen -o "$WORK/age.key" 2>/dev/null
    have_s3=1
  fi
  local have_restic=0
  if command -v restic >/dev/null; then
    echo bench >"$WORK/restic.pass"
    RESTIC_PASSWORD_FILE=$WORK/restic.pass restic init -q -r "$WORK/restic" >/dev/null
    have_restic=1
  fi
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
  for r in $(seq "$ROUNDS"); do
    measure one:drbackup "$DRB -c $WORK/drbackup.conf -q full"
    measure one:dump+zstd "$DUMP --databases practice_1 | zstd -q -3 -T2 > $WORK/ref.zst"
    if [ $have_s3 = 1 ]; then
      measure one:dump+zstd+age+aws "$DUMP --databases practice_1 | zstd -q -3 -T2 | age -r \$(age-keygen -y $WORK/age.key) | env -u AWS_CA_BUNDLE /usr/bin/aws --endpoint-url http://127.0.0.1:$port s3 cp - s3://bench/dump.sql.zst.age"
    fi
    if [ $have_restic = 1 ]; then
      measure one:dump+restic "$DUMP --databases practice_1 | RESTIC_PASSWORD_FILE=$WORK/restic.pass restic -q -r $WORK/restic backup --stdin --stdin-filename dump.sql"
    fi
    sleep 1 # backup ids are seconds
  done
  report one:drbackup one:dump+zstd "<= 1.10x, RSS <= 64 MiB"
  [ $have_s3 = 1 ] && report one:drbackup one:dump+zstd+age+aws "< 1.00x"
  [ $have_restic = 1 ] && report one:drbackup one:dump+restic "< 1.00x"
  sql src -e "DROP DATABASE practice_1"
  rm -rf "${WORK:?}"/r1/* "${WORK:?}"/r2/*
}

run_many() {
  echo "== 8 practices of ~${MANY_MB:-50} MB of SQL each"
  make_practices src 8 "${MANY_MB:-50}"
  local dbs; dbs=$(seq -f 'practice_%g' 1 8 | tr '\n' ' ')
  echo "   dump size: $(( $($DUMP --databases $dbs | wc -c) / 1048576 )) MiB"
  for r in $(seq "$ROUNDS"); do
    measure many:drbackup "$DRB -c $WORK/drbackup.conf -q full"
    measure many:dump+zstd "$DUMP --databases $dbs | zstd -q -3 -T2 > $WORK/ref.zst"
    sleep 1
  done
  report many:drbackup many:dump+zstd "<= 0.75x, RSS <= 64 MiB"
}

case $what in
  one) run_one ;;
  many) run_many ;;
  all) run_one; run_many ;;
  *) echo "usage: $0 [one|many|all]" >&2; exit 2 ;;
esac
