#!/usr/bin/env bash
# The streaming chain (issue: DRB1 and the pipeline): ~600 MB of SQL-like text through
# `drbackup repo put` into two posix repositories, against `zstd -3 -T2` alone on the same input
# in the same run. Target: drbackup at >= 0.9x zstd's throughput, peak RSS <= 64 MiB.
. "$(dirname "$0")/lib.sh"
start_server src --log-bin="$WORK/src/data/mysql-bin"
keys_and_config src
make_practices src 3 "${MB_EACH:-200}"
mariadb-dump --no-defaults -uroot -S "$WORK/src/s.sock" --databases practice_1 practice_2 practice_3 >"$WORK/input.sql"
size=$(stat -c %s "$WORK/input.sql")
echo "== input: $((size / 1048576)) MiB of SQL"
cat "$WORK/input.sql" >/dev/null # in the page cache for both
for r in $(seq "$ROUNDS"); do
  measure "repo-put-2-repos" "$DRB -c $WORK/drbackup.conf -q repo put bench/input-$r.sql.drb < $WORK/input.sql"
  measure "zstd-3-T2" "zstd -q -3 -T2 -c < $WORK/input.sql > $WORK/out.zst"
done
read -r a ar < <(summary repo-put-2-repos)
read -r b br < <(summary zstd-3-T2)
printf 'drbackup repo put, 2 repositories: %6.1f MB/s  peak RSS %5.1f MiB\n' "$(echo "$size/$a/1000000" | bc -l)" "$(echo "$ar/1024" | bc -l)"
printf 'zstd -3 -T2 alone:                 %6.1f MB/s\n' "$(echo "$size/$b/1000000" | bc -l)"
printf 'throughput ratio: %.2fx (target >= 0.90x)\n' "$(echo "$b/$a" | bc -l)"
