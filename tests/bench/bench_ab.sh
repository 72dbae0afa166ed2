#!/usr/bin/env bash
# Two builds of drbackup on the same data, alternating in one invocation: did a change make
# `full` or `restore --to latest` slower?
#   DRB_A=/old/drbackup DRB_B=/new/drbackup tests/bench/bench_ab.sh [MB]
# One practice of ~MB MB of SQL (default 400). Each round runs A then B (full to two posix
# repositories; restore into an empty server), and the medians are compared as B/A. The
# configuration has no signing section (a build from before signing reads it too); a build that
# knows --allow-unsigned restores with it, so both plan from the same metadata.
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
drop_all() { sql dst -e "DROP DATABASE IF EXISTS practice_1"; }
echo "== one practice of ~$MB MB of SQL, $ROUNDS rounds, A=$DRB_A B=$DRB_B"
for r in $(seq "$ROUNDS"); do
  for x in A B; do
    bin=DRB_$x
    rm -rf "$WORK/$x/r1/bench" "$WORK/$x/r2/bench"
    measure "full:$x" "${!bin} -c $WORK/$x/drbackup.conf -q full"
  done
done
for x in A B; do
  bin=DRB_$x
  "${!bin}" -c "$WORK/$x/drbackup.conf" -q full
done
for r in $(seq "$ROUNDS"); do
  for x in A B; do
    bin=DRB_$x u=u$(echo "$x" | tr AB ab)
    drop_all
    measure "restore:$x" "${!bin} -c $WORK/$x/drbackup.conf -q restore --to latest --target-socket $WORK/dst/s.sock --target-user root --force ${!u}"
  done
done
for w in full restore; do
  read -r as ar < <(summary "$w:A")
  read -r bs br < <(summary "$w:B")
  printf '%-8s A %6.2f s (%5.1f MiB)   B %6.2f s (%5.1f MiB)   B/A %.3f\n' "$w" "$as" \
    "$(echo "$ar/1024" | bc -l)" "$bs" "$(echo "$br/1024" | bc -l)" "$(echo "$bs / $as" | bc -l)"
done
