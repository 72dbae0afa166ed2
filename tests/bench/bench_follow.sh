#!/usr/bin/env bash
# binlog --follow with inotify: commit-to-durable in both regions, and objects written per hour
# of steady load before and after compaction.
#   tests/bench/bench_follow.sh            (run from the source tree; DRB=build/drbackup)
# Two regions: a posix repository and a throwaway Ceph RGW bucket on loopback (tests/rgw.sh).
# 1. commit-to-durable: 20 single-row commits (a 16 KB BLOB and 4 KB of text each), 0.3-0.7 s
#    apart; for each, the time from the commit's return to the follower's log line saying the
#    segment holding its GTID is stored (that line is written once its description landed in
#    every repository). Median and worst.
# 2. objects: LOAD_SECONDS (default 120) of a steady writer (~10 commits/s) with test-only
#    levels LEVELS (default {10, 60}); segments written as cut, per hour, then the objects the
#    repositories hold for that hour once compaction is done, and the PUTs compaction made.
# FOLLOW_DELAY_MS (default 50) is the coalescing delay.
. "$(dirname "$0")/lib.sh"
need python3 "apt-get install python3"
RGW=$top/tests/rgw.sh
[ -x "$RGW" ] || { echo "bench_follow: $RGW is missing" >&2; exit 2; }
command -v radosgw >/dev/null 2>&1 || { echo "bench_follow: radosgw is not installed (./quickstart test)" >&2; exit 2; }
LOAD_SECONDS=${LOAD_SECONDS:-120}
LEVELS=${LEVELS:-"{10, 60}"}
DELAY=${FOLLOW_DELAY_MS:-50}
if grep -q 'fsanitize=address' "$(dirname "$DRB")/Makefile" 2>/dev/null; then
  echo "bench_follow: warning: $DRB is a sanitizer build; figures will be high" >&2
fi
rgw_stop() { "$RGW" stop "$WORK/rgw" >/dev/null 2>&1 || true; }
trap 'rgw_stop; cleanup' EXIT

start_server src --log-bin="$WORK/src/data/mysql-bin" --sync-binlog=1
sql src -e "CREATE DATABASE practice_1; CREATE TABLE practice_1.documents (id INT
  AUTO_INCREMENT PRIMARY KEY, pid INT, notes TEXT, scan BLOB) ENGINE=InnoDB"
RGW_GATEWAYS=a RGW_BUCKETS=bench RGW_ACCESS_KEY=DRBBENCHKEY "$RGW" start "$WORK/rgw" $$ >"$WORK/rgw.ports"
PORT=$(awk '$1 == "a" { print $2 }' "$WORK/rgw.ports")
"$DRB" keygen --out "$WORK/dr" >/dev/null 2>&1
mkdir -p "$WORK/r1" "$WORK/spool"
cat >"$WORK/drbackup.conf" <<CONF
host_id = "bench"
spool_dir = "$WORK/spool"
database { socket = "$WORK/src/s.sock" user = "root" }
encryption { public_keys = {"$WORK/dr.pub"} }
compression { level = 3 }
binlog { segment_seconds = 1 follow_delay_ms = $DELAY compact_levels = $LEVELS compact_grace = 2 }
repo primary { type = "posix" path = "$WORK/r1" }
repo dr { type = "s3" endpoint = "http://127.0.0.1:$PORT" bucket = "bench" prefix = "drb"
  access_key_id = "DRBBENCHKEY" secret_access_key_file = "$WORK/rgw/secret" }
CONF
chmod 600 "$WORK/drbackup.conf"
"$DRB" -c "$WORK/drbackup.conf" -q binlog
objects() { find "$WORK/r1/bench/binlog" -type f | wc -l; }
o_init=$(objects)
t_start=$(date +%s)
"$DRB" -v -c "$WORK/drbackup.conf" binlog --follow >"$WORK/follow.log" 2>&1 &
follower=$!
for _ in $(seq 100); do grep -q following "$WORK/follow.log" && break; sleep 0.1; done
sleep 2

echo "== commit-to-durable, 20 commits, follow_delay_ms = $DELAY, posix + Ceph RGW on loopback"
python3 - "$WORK" <<'PY'
import random, re, subprocess, sys, time
work = sys.argv[1]
log = open(work + "/follow.log")
log.seek(0, 2)
cli = ["mariadb", "--no-defaults", "-uroot", "-S", work + "/src/s.sock", "-N", "-B"]
shipped = re.compile(r"shipped .* GTID (\S+)")
def seq_of(state):
    return max(int(x.rsplit("-", 1)[1]) for x in state.split(",") if x)
lat = []
for i in range(20):
    q = ("INSERT INTO practice_1.documents (pid, notes, scan) SELECT %d, REPEAT('stable ', 600), "
         "GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM practice_1.seq_1_to_16; "
         "SELECT @@gtid_binlog_pos" % i)
    out = subprocess.run(cli + ["-e", q], capture_output=True, text=True, check=True).stdout
    t0 = time.monotonic()
    want = seq_of(out.strip())
    while True:
        line = log.readline()
        if not line:
            if time.monotonic() - t0 > 30:
                sys.exit("bench_follow: commit %d not shipped within 30 s" % i)
            time.sleep(0.002)
            continue
        m = shipped.search(line)
        if m and seq_of(m.group(1)) >= want:
            break
    lat.append(time.monotonic() - t0)
    time.sleep(random.uniform(0.3, 0.7))
lat.sort()
med = (lat[9] + lat[10]) / 2
print("commit-to-durable (both regions): median %.3f s, worst %.3f s, best %.3f s" % (med, lat[-1], lat[0]))
print("all: " + " ".join("%.3f" % x for x in lat))
PY

echo "== objects per hour of steady load: $LOAD_SECONDS s at ~10 commits/s, levels $LEVELS"
count_l0() { grep -c 'debug: shipped ' "$WORK/follow.log" || true; }
s0=$(count_l0); c0=$(grep -c 'as one level-' "$WORK/follow.log" || true)
python3 - "$LOAD_SECONDS" <<'PY' | sql src
import sys, time
end = time.time() + float(sys.argv[1])
i = 0
while time.time() < end:
    print("INSERT INTO practice_1.documents (pid, notes, scan) SELECT %d, REPEAT('note ', 800), "
          "GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM practice_1.seq_1_to_16;" % i, flush=True)
    i += 1
    time.sleep(0.1)
PY
s1=$(count_l0); o1=$(objects); t_end=$(date +%s); run=$((t_end - t_start))
# compaction of the last windows, then the deletions after their grace
top=$(echo "$LEVELS" | tr -d '{} ' | awk -F, '{print $NF}')
sleep $((top + 8))
kill -TERM "$follower"; wait "$follower" || true
"$DRB" -c "$WORK/drbackup.conf" -q binlog; sleep 3; "$DRB" -c "$WORK/drbackup.conf" -q binlog
o2=$(objects); c1=$(grep -c 'as one level-' "$WORK/follow.log" || true)
cut=$((s1 - s0))
per_hour() { echo "$1 * 3600 / $LOAD_SECONDS" | bc; }
echo "segments cut: $cut in $LOAD_SECONDS s = $(per_hour "$cut")/hour, $(per_hour $((cut * 2))) objects/hour per region (.drb + .json)"
echo "objects held for the whole run ($run s: the 20 commits, then the load; posix region): $((o1 - o_init)) when the load ended, $((o2 - o_init)) once compacted = $(echo "($o2 - $o_init) * 3600 / $run" | bc)/hour"
echo "compacted segments written (each 2 PUTs per region): $((c1 - c0)) = $(per_hour $((c1 - c0)))/hour"
