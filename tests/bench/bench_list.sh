#!/usr/bin/env bash
# `drbackup list` over a year of binlog segments (one every 5 minutes: 105,120), compacted into
# 365 day catalogs, plus today's 288 segments read one by one. DESIGN target: a couple of
# seconds against a local S3 server. The posix repository holds the whole year (every .drb and
# .json); the S3 repository holds the day catalogs, today's segments and, by default, 20,000
# older segment keys (uploading 210,000 objects to s3rver alone takes longer than the bench):
# start-after keeps the listing to today's keys either way.
# The synthetic metadata is unsigned (list --allow-unsigned): 365 signature checks add ~20 ms.
. "$(dirname "$0")/lib.sh"
OLDER=${OLDER:-20000}
mkdir -p "$WORK/r1" "$WORK/spool"
"$DRB" keygen --out "$WORK/dr" >/dev/null 2>&1
python3 - "$WORK/year" <<'PY'
import json, os, sys, datetime
root = sys.argv[1]
host, gen = "bench", "1-20251125T000000Z"
start = datetime.datetime(2025, 11, 25, tzinfo=datetime.timezone.utc)
def iso(t): return t.strftime("%Y-%m-%dT%H:%M:%SZ")
os.makedirs(f"{root}/{host}/binlog/{gen}", exist_ok=True)
os.makedirs(f"{root}/{host}/catalog/{gen}", exist_ok=True)
day_segs, prev_day, n = [], None, 0
for i in range(365 * 288 + 288):
    t = start + datetime.timedelta(minutes=5 * i)
    name = f"mysql-bin.{i + 1:06d}"
    key = f"{host}/binlog/{gen}/{name}-000000000000"
    seg = {"format": 1, "kind": "binlog", "generation": gen, "file": name, "start": 0, "end": 4096,
           "closed": True, "object": f"{name}-000000000000.drb", "stored_bytes": 1200,
           "sha256": "a" * 64, "first_event": iso(t), "last_event": iso(t + datetime.timedelta(seconds=290)),
           "start_gtid": f"0-1-{i * 10}", "end_gtid": f"0-1-{i * 10 + 10}", "server_id": 1,
           "file_created": iso(t), "events": 40, "shipped": iso(t + datetime.timedelta(seconds=299))}
    with open(f"{root}/{key}.json", "w") as f: json.dump(seg, f, sort_keys=True)
    with open(f"{root}/{key}.drb", "w") as f: f.write("x")
    day = t.strftime("%Y%m%d")
    if prev_day and day != prev_day and i < 365 * 288:
        cat = {"format": 1, "generation": gen, "day": prev_day, "first": day_segs[0][0] + ".json",
               "last": day_segs[-1][0] + ".json", "segments": [s for _, s in day_segs]}
        with open(f"{root}/{host}/catalog/{gen}/{prev_day}.json", "w") as f: json.dump(cat, f, sort_keys=True)
        day_segs = []
    day_segs.append((key, seg)); prev_day = day
PY
count() { find "$1" -type f | wc -l; }
echo "== a year of segments: $(find "$WORK/year/bench/binlog" -name '*.json' | wc -l) segments, $(count "$WORK/year/bench/catalog") day catalogs"
cp -r "$WORK/year/bench" "$WORK/r1/"
cat >"$WORK/posix.conf" <<CONF
host_id = "bench"
spool_dir = "$WORK/spool"
encryption { public_keys = {"$WORK/dr.pub"} }
repo year { type = "posix" path = "$WORK/r1" }
CONF
for r in $(seq "$ROUNDS"); do measure list:posix "$DRB -c $WORK/posix.conf -q list --allow-unsigned"; done
read -r s rss < <(summary list:posix)
printf 'list, posix, a year:             %6.2f s  (peak RSS %.1f MiB)\n' "$s" "$(echo "$rss/1024" | bc -l)"

if [ -e "$top/tests/node_modules/s3rver/bin/s3rver.js" ] && [ -x /usr/bin/aws ]; then
  port=$((20000 + RANDOM % 20000))
  mkdir -p "$WORK/s3"
  node --openssl-legacy-provider "$top/tests/node_modules/s3rver/bin/s3rver.js" -d "$WORK/s3" -a 127.0.0.1 \
    -p "$port" -s --configure-bucket year >/dev/null 2>&1 &
  echo $! >"$WORK/s3.pid"; servers+=("$WORK/s3.pid")
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  # what goes up: the catalogs, today's segments and OLDER older segment keys
  mkdir -p "$WORK/up/bench/binlog/1-20251125T000000Z"
  cp -r "$WORK/year/bench/catalog" "$WORK/up/bench/"
  ls "$WORK/year/bench/binlog/1-20251125T000000Z" | sort | tail -n $((288 * 2 + OLDER)) |
    while read -r f; do ln "$WORK/year/bench/binlog/1-20251125T000000Z/$f" "$WORK/up/bench/binlog/1-20251125T000000Z/$f"; done
  echo "   uploading $(count "$WORK/up") objects to s3rver..."
  env -u AWS_CA_BUNDLE AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
    /usr/bin/aws --endpoint-url "http://127.0.0.1:$port" s3 sync --only-show-errors "$WORK/up" s3://year/ >/dev/null
  printf 'S3RVER\n' >"$WORK/s3.secret"; chmod 600 "$WORK/s3.secret"
  cat >"$WORK/s3.conf" <<CONF
host_id = "bench"
spool_dir = "$WORK/spool"
encryption { public_keys = {"$WORK/dr.pub"} }
repo year { type = "s3" endpoint = "http://127.0.0.1:$port" bucket = "year" access_key_id = "S3RVER" secret_access_key_file = "$WORK/s3.secret" }
CONF
  for r in $(seq "$ROUNDS"); do measure list:s3 "$DRB -c $WORK/s3.conf -q list --allow-unsigned"; done
  read -r s rss < <(summary list:s3)
  printf 'list, s3rver, a year of catalogs: %6.2f s  (peak RSS %.1f MiB; target: a couple of seconds)\n' "$s" "$(echo "$rss/1024" | bc -l)"
fi
