#!/usr/bin/env bash
# `drbackup list` and a year-long restore plan over two synthetic histories of one year each:
#   5m  a year of 5-minute segments (105,120 closed files) in 365 day catalogs, today's 288
#       segments included;
#   1s  a year of 1-second segments compacted to hours: 8,760 level-1 segments (one a binlog
#       file), each shipped 61 s after its hour, so the last hours of a day sit in the next
#       day's catalog, plus the current half hour's SMALL (1,800) small 1-second segments.
# Today's catalog is shaped as the agent writes it: open, naming what was shipped up to
# CATALOG_SECONDS (60, the default of binlog { catalog_seconds }) ago; what came since (up to a
# minute of 1-second segments) stays descriptions only, which list reads one by one.
# CATALOG_SECONDS=0 leaves today without a catalog (an agent before catalog_seconds).
# Each history has one full backup at its start, so `list` plans a window over the whole year
# and `restore --dry-run --to latest` plans the year-long chain (it logs how many day catalogs
# it read again). Targets (issue 18): list <= 2 s and <= 64 MiB peak RSS, posix and S3; a
# restore planned over a year reads at most one day catalog per day plus the chain it replays.
# The posix repository holds the whole year (every .drb and .json). The S3 repository (a
# throwaway Ceph RGW, tests/rgw.sh, bluestore) holds what `list` reads (the day catalogs,
# today's segments, the manifest) plus OLDER (default 2,000) older segment keys of each
# history: uploading 210,000 objects takes longer than the bench, and start-after keeps the
# listing to today's keys (from the open catalog's first, whose objects it checks) whatever lies
# before them.
# REF=/path/to/older/drbackup runs that build too, alternating, for a ratio.
# The synthetic metadata is unsigned (--allow-unsigned).
. "$(dirname "$0")/lib.sh"
OLDER=${OLDER:-2000}
SMALL=${SMALL:-1800}
CATALOG_SECONDS=${CATALOG_SECONDS:-60}
REF=${REF:-}
RGW=$top/tests/rgw.sh
mkdir -p "$WORK/r1" "$WORK/spool"
"$DRB" keygen --out "$WORK/dr" >/dev/null 2>&1
echo "generating the histories..."
python3 - "$WORK/r1" "$SMALL" "$CATALOG_SECONDS" <<'PY'
import json, os, sys, time
root, small, lag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def iso(t): return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
def day(t): return time.strftime("%Y%m%d", time.gmtime(t))
def key(host, gen, s):
    if s.get("level"):
        return f"{host}/binlog/{gen}/{s['file']}-{s['start']:012d}-{s['end']:012d}-L{s['level']}"
    return f"{host}/binlog/{gen}/{s['file']}-{s['start']:012d}"
def put(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f: json.dump(obj, f, sort_keys=True)
def manifest(host, gen, t, gtid):
    bid = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
    m = {"format": 1, "kind": "full", "host_id": host, "backup_id": bid, "started": iso(t),
         "finished": iso(t + 60), "snapshot_time": iso(t + 30),
         "server": {"version": "10.11.6-MariaDB", "server_id": 1},
         "snapshot": {"binlog_file": "mysql-bin.000001", "binlog_pos": 4, "gtid": gtid,
                      "generation": gen, "binlog_file_created": iso(t + 60)},
         "jobs": 2, "block_micros": 900,
         "databases": [{"name": "practice_1", "object": "practice_1.sql.drb", "plain_bytes": 9000000,
                        "stored_bytes": 2000000, "sha256": "c" * 64, "tables": {"patient_data": 1000},
                        "rows": 1000, "millis": 800}], "recipients": []}
    put(f"{root}/{host}/full/{bid}/manifest.json", m)
    with open(f"{root}/{host}/full/{bid}/practice_1.sql.drb", "w") as f: f.write("x")
def history(host, segs, now):
    gen = "1-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(segs[0]["first_t"]))
    today = day(now)
    days = {}
    for s in segs:
        s["generation"] = gen
        k = key(host, gen, s)
        s["object"] = os.path.basename(k) + ".drb"
        ft = s.pop("first_t")
        put(f"{root}/{k}.json", s)
        with open(f"{root}/{k}.drb", "w") as f: f.write("x")
        shipped = ft + s.pop("ship_after")
        # today's catalog names what was shipped up to its last rewrite (the agent's
        # catalog_seconds); what came since stays descriptions only
        if day(shipped) < today or (lag and shipped <= now - lag):
            days.setdefault(day(shipped), []).append((k, s))
    for d, v in days.items():
        v.sort(key=lambda e: e[0])
        c = {"format": 1, "generation": gen, "day": d, "first": v[0][0] + ".json",
             "last": v[-1][0] + ".json", "segments": [s for _, s in v]}
        if d == today:
            c["open"] = True
            c["writes"] = (now - lag) % 86400 // lag
        put(f"{root}/{host}/catalog/{gen}/{d}.json", c)
    return gen
now = int(time.time())
start = (now // 86400 - 365) * 86400
# ---- 5m: a closed file every 5 minutes
segs, t, i = [], start, 0
while t + 300 <= now:
    segs.append({"format": 1, "kind": "binlog", "file": f"mysql-bin.{i + 1:06d}", "start": 0, "end": 4096,
                 "closed": True, "stored_bytes": 1200, "sha256": "a" * 64, "first_event": iso(t),
                 "last_event": iso(t + 290), "start_gtid": f"0-1-{i * 10}", "end_gtid": f"0-1-{i * 10 + 10}",
                 "server_id": 1, "file_created": iso(t), "events": 40, "shipped": iso(t + 299),
                 "complete_until": iso(t + 299), "first_t": t, "ship_after": 299})
    t += 300; i += 1
manifest("y5m", "1-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(start)), start - 60, "0-1-0")
history("y5m", segs, now)
print(f"   5m: {len(segs)} segments")
# ---- 1s: an hour a file, compacted to one level-1 segment 61 s after the hour; the last
# SMALL seconds still as 1-second segments of the current file
segs, t, i, seq = [], start, 0, 0
cur = now - small
while t + 3600 <= cur:
    segs.append({"format": 1, "kind": "binlog", "file": f"mysql-bin.{i + 1:06d}", "start": 0,
                 "end": 3600 * 1500, "closed": True, "stored_bytes": 3600 * 600, "sha256": "b" * 64,
                 "first_event": iso(t), "last_event": iso(t + 3599), "start_gtid": f"0-1-{seq}",
                 "end_gtid": f"0-1-{seq + 3600}", "server_id": 1, "file_created": iso(t), "events": 14400,
                 "shipped": iso(t + 3661), "complete_until": iso(t + 3600), "level": 1, "first_t": t,
                 "ship_after": 3661})
    t += 3600; i += 1; seq += 3600
for k in range(small):
    a = t + k
    segs.append({"format": 1, "kind": "binlog", "file": f"mysql-bin.{i + 1:06d}", "start": k * 1500,
                 "end": (k + 1) * 1500, "closed": False, "stored_bytes": 600, "sha256": "d" * 64,
                 "first_event": iso(a), "last_event": iso(a), "start_gtid": f"0-1-{seq + k}",
                 "end_gtid": f"0-1-{seq + k + 1}", "server_id": 1, "file_created": iso(t), "events": 4,
                 "shipped": iso(a + 1), "complete_until": iso(a + 1), "first_t": a, "ship_after": 1})
manifest("y1s", "1-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(start)), start - 60, "0-1-0")
history("y1s", segs, now)
print(f"   1s: {len(segs) - small} level-1 segments, {small} small ones today")
PY
for h in y5m y1s; do
  echo "== $h: $(find "$WORK/r1/$h/binlog" -name '*.json' | wc -l) segment descriptions, $(find "$WORK/r1/$h/catalog" -type f | wc -l) day catalogs"
done
conf() {  # conf NAME REPO_LINE
  cat >"$WORK/$1.conf" <<CONF
host_id = "y5m"
spool_dir = "$WORK/spool"
database { socket = "$WORK/none.sock" user = "root" }
encryption { public_keys = {"$WORK/dr.pub"} }
$2
CONF
  chmod 600 "$WORK/$1.conf"
}
conf posix "repo year { type = \"posix\" path = \"$WORK/r1\" }"

# ---- S3: a throwaway Ceph RGW, what list reads uploaded with rclone
KEY=DRBBENCHKEY
RGW_GATEWAYS=a RGW_BUCKETS=year RGW_STORE=bluestore RGW_STORE_GIB=4 RGW_ACCESS_KEY=$KEY \
  "$RGW" start "$WORK/rgw" $$ >"$WORK/rgw.ports"
servers_rgw() { "$RGW" stop "$WORK/rgw" >/dev/null 2>&1 || true; }
trap 'servers_rgw; cleanup' EXIT
PORT=$(awk '$1 == "a" { print $2 }' "$WORK/rgw.ports")
SECRET=$(cat "$WORK/rgw/secret")
cp "$WORK/rgw/secret" "$WORK/s3.secret"
chmod 600 "$WORK/s3.secret"
conf s3 "repo year { type = \"s3\" endpoint = \"http://127.0.0.1:$PORT\" bucket = \"year\" access_key_id = \"$KEY\" secret_access_key_file = \"$WORK/s3.secret\" }"
cat >"$WORK/rclone.conf" <<EOF
[rgw]
type = s3
provider = Ceph
access_key_id = $KEY
secret_access_key = $SECRET
endpoint = http://127.0.0.1:$PORT
region = us-east-1
EOF
for h in y5m y1s; do
  gen=$(ls "$WORK/r1/$h/binlog")
  mkdir -p "$WORK/up/$h/binlog/$gen"
  cp -r "$WORK/r1/$h/catalog" "$WORK/r1/$h/full" "$WORK/up/$h/"
  last=$(ls "$WORK/r1/$h/catalog/$gen" | sort | tail -1)
  # the newest catalog's first key: today's (open) one is checked against the objects
  firstkey=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["first"].rsplit("/",1)[1])' "$WORK/r1/$h/catalog/$gen/$last")
  # today's segments (the keys from the newest day catalog's first key on) and OLDER before them
  ls "$WORK/r1/$h/binlog/$gen" | sort | awk -v k="$firstkey" -v older="$OLDER" '
    { v[NR] = $0; if ($0 < k) n = NR } END { for (i = 1; i <= NR; i++) if (i > n - older) print v[i] }' |
    while read -r f; do ln "$WORK/r1/$h/binlog/$gen/$f" "$WORK/up/$h/binlog/$gen/$f"; done
done
echo "   uploading $(find "$WORK/up" -type f | wc -l) objects to Ceph RGW..."
t0=$(now)
env -u AWS_CA_BUNDLE RCLONE_CONFIG="$WORK/rclone.conf" rclone copy --transfers 16 --checkers 16 \
  --s3-no-check-bucket "$WORK/up" rgw:year/
echo "   uploaded in $(printf '%.0f' "$(echo "$(now) - $t0" | bc -l)") s"

run() {  # run LABEL BINARY CONF HOST
  measure "$1" "$2 -c $WORK/$3.conf -q list --allow-unsigned --host $4"
}
for r in $(seq "$ROUNDS"); do
  for repo in posix s3; do
    for h in y5m y1s; do
      run "list:$repo:$h" "$DRB" "$repo" "$h"
      [ -z "$REF" ] || run "ref:$repo:$h" "$REF" "$repo" "$h"
    done
  done
done
echo
printf '%-28s %8s %14s %s\n' "list, a year of" "median" "peak RSS" "${REF:+  reference build}"
for repo in posix s3; do
  for h in y5m y1s; do
    read -r s rss < <(summary "list:$repo:$h")
    line=$(printf '%-28s %6.2f s %9.1f MiB' "$h, $repo" "$s" "$(echo "$rss/1024" | bc -l)")
    if [ -n "$REF" ]; then
      read -r rs rrss < <(summary "ref:$repo:$h")
      line="$line$(printf '   %6.2f s %7.1f MiB  (%.2fx)' "$rs" "$(echo "$rrss/1024" | bc -l)" "$(ratio "$s" "$rs")")"
    fi
    echo "$line"
  done
done
"$DRB" -c "$WORK/posix.conf" -q list --allow-unsigned --host y1s | sed -n '/objects:/,/level 1/p' | sed 's/^/  y1s posix: /'

# ---- a restore planned over the year (posix: every segment is there to plan from)
echo
for h in y5m y1s; do
  /usr/bin/time -f '%M %e' -o "$WORK/plan.rss" "$DRB" -c "$WORK/posix.conf" restore --dry-run \
    --allow-unsigned --host "$h" --to latest >"$WORK/plan.out" 2>"$WORK/plan.err" || {
    echo "bench: restore --dry-run failed:" >&2; tail -5 "$WORK/plan.err" >&2; exit 1; }
  read -r rss secs <"$WORK/plan.rss"
  days=$(find "$WORK/r1/$h/catalog" -type f | wc -l)
  printf 'restore --dry-run --to latest, %s: %s s, peak RSS %.1f MiB; %s\n' "$h" "$secs" \
    "$(echo "$rss/1024" | bc -l)" "$(grep -o 'planned from.*' "$WORK/plan.err" | head -1) ($days day catalogs in the repository)"
done
