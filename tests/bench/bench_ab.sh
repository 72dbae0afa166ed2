#!/usr/bin/env bash
# Two builds of drbackup on the same data, in one invocation: did a change make `full` or
# `restore --to latest` slower?
#   DRB_A=/old/drbackup DRB_B=/new/drbackup tests/bench/bench_ab.sh [MB]
# One practice of ~MB MB of SQL (default 400). Each round runs A B B A (so neither build always
# follows the other), `full` to two posix repositories and `restore` into a server that has
# dropped the previous restore and flushed it (InnoDB dirty pages and purge at rest), so one
# run does not pay for the last one's background work. Reported as B/A of the medians: wall
# time, and CPU time of drbackup and its children (steadier on a busy machine). A restore
# spends most of its wall time in the server, so the bench also records what each build sent
# the server (general log, statement kinds and order, values not included) and says whether
# the two are the same. The configuration has no signing section (a build from before signing
# reads it too); a build that knows --allow-unsigned restores with it, so both plan from the
# same metadata.
. "$(dirname "$0")/lib.sh"
MB=${1:-400}
: "${DRB_A:?DRB_A: the build to compare against}" "${DRB_B:?DRB_B: the build under test}"
start_server src --log-bin="$WORK/src/data/mysql-bin"
start_server dst --skip-log-bin
make_practices src 1 "$MB"
"$DRB_B" keygen --out "$WORK/dr" >/dev/null 2>&1
for x in A B; do
  mkdir -p "$WORK/$x/r1" "$WORK/$x/r2" "$WORK/$x/spool"
  cat >"$WORK/$x/drbackup.conf" <<CONF
host_id = "bench"
spool_dir = "$WORK/$x/spool"
database { socket = "$WORK/src/s.sock" user = "root" }
encryption { public_keys = {"$WORK/dr.pub"} secret_keys = {"$WORK/dr.key"} }
compression { level = 3 }
repo primary { type = "posix" path = "$WORK/$x/r1" }
repo dr { type = "posix" path = "$WORK/$x/r2" }
CONF
  chmod 600 "$WORK/$x/drbackup.conf"
done
unsigned() { "$1" restore --help 2>&1 | grep -q allow-unsigned && echo --allow-unsigned || true; }
ua=$(unsigned "$DRB_A"); ub=$(unsigned "$DRB_B")
status() { sql "$1" -N -e "SHOW GLOBAL STATUS LIKE '$2'" | awk '{print $2}'; }
# quiet SERVER: wait (at most a minute) until InnoDB has flushed and purged
quiet() {
  sql "$1" -e "SET GLOBAL innodb_max_dirty_pages_pct = 0"
  for _ in $(seq 600); do
    [ "$(status "$1" Innodb_buffer_pool_pages_dirty)" -le 16 ] &&
      [ "$(status "$1" Innodb_history_list_length)" -le 16 ] && break
    sleep 0.1
  done
  sql "$1" -e "SET GLOBAL innodb_max_dirty_pages_pct = 90"
}
drop_all() { sql dst -e "DROP DATABASE IF EXISTS practice_1"; quiet dst; }
full_run() { local bin=DRB_$1; rm -rf "$WORK/$1/r1/bench" "$WORK/$1/r2/bench"; quiet src
  measure "full:$1" "${!bin} -c $WORK/$1/drbackup.conf -q full"; }
restore_cmd() { local bin=DRB_$1 u=u$(echo "$1" | tr AB ab)
  echo "${!bin} -c $WORK/$1/drbackup.conf -q restore --to latest --target-socket $WORK/dst/s.sock --target-user root --force ${!u}"; }
restore_run() { drop_all; measure "restore:$1" "$(restore_cmd "$1")"; }
echo "== one practice of ~$MB MB of SQL, $ROUNDS rounds of A B B A, A=$DRB_A B=$DRB_B"
for r in $(seq "$ROUNDS"); do for x in A B B A; do full_run "$x"; done; done
for x in A B; do bin=DRB_$x; "${!bin}" -c "$WORK/$x/drbackup.conf" -q full; done
for r in $(seq "$ROUNDS"); do for x in A B B A; do restore_run "$x"; done; done
# what each build sends the server, once more with the general log on
for x in A B; do
  drop_all
  sql dst -e "SET GLOBAL general_log_file = '$WORK/general.$x'; SET GLOBAL general_log = 1"
  bash -c "$(restore_cmd "$x")" >/dev/null 2>&1
  sql dst -e "SET GLOBAL general_log = 0"
  sed -n 's/^.*[0-9] Query\t//p' "$WORK/general.$x" | cut -c1-60 | grep -v "general_log" >"$WORK/sent.$x"
done
for w in full restore; do
  read -r as ar < <(summary "$w:A")
  read -r bs br < <(summary "$w:B")
  ac=$(cpu "$w:A") bc=$(cpu "$w:B")
  printf '%-8s A %6.2f s %5.2f s CPU (%5.1f MiB)   B %6.2f s %5.2f s CPU (%5.1f MiB)   B/A wall %.3f  CPU %.3f\n' \
    "$w" "$as" "$ac" "$(echo "$ar/1024" | bc -l)" "$bs" "$bc" "$(echo "$br/1024" | bc -l)" \
    "$(echo "$bs / $as" | bc -l)" "$(echo "$bc / $ac" | bc -l)"
done
if cmp -s "$WORK/sent.A" "$WORK/sent.B"; then
  echo "restore  the server received the same $(wc -l <"$WORK/sent.A") statements from A and B"
else
  echo "restore  the statements sent differ (A < > B):"; diff "$WORK/sent.A" "$WORK/sent.B" | head -20
fi
