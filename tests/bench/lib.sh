# Shared by the benchmarks: sandbox servers, generated practice data, timing with peak RSS.
# Benchmarks report ratios against reference commands run in the same invocation, alternating,
# because timings on a shared 2-core machine drift by tens of percent between sessions.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
DRB=${DRB:-$top/build/drbackup}
WORK=${WORK:-$(mktemp -d /tmp/drb-bench.XXXXXX)}
ROUNDS=${ROUNDS:-3}
servers=()

cleanup() {
  for pidfile in "${servers[@]}"; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  sleep 1
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is not installed ($2)" >&2; exit 2; }; }
need mariadbd "apt-get install mariadb-server"
need zstd "apt-get install zstd"
[ -x "$DRB" ] || { echo "bench: build drbackup first ($DRB)" >&2; exit 2; }

# start_server NAME [extra mariadbd options...]: a sandbox on $WORK/NAME/s.sock
start_server() {
  local name=$1; shift
  local d=$WORK/$name
  mkdir -p "$d"
  mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$d/data" \
    --auth-root-authentication-method=normal --skip-test-db >"$d/install.log" 2>&1
  mariadbd --no-defaults --user="$(id -un)" --datadir="$d/data" --socket="$d/s.sock" \
    --skip-networking --server-id=1 --binlog-format=ROW --pid-file="$d/pid" \
    --log-error="$d/err.log" --innodb-buffer-pool-size=1G --innodb-log-file-size=256M \
    --max-allowed-packet=256M "$@" >/dev/null 2>&1 &
  servers+=("$d/pid")
  for _ in $(seq 300); do
    mariadb --no-defaults -uroot -S "$d/s.sock" -e 'SELECT 1' >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench: $name did not start, see $d/err.log" >&2
  exit 1
}
sql() { local name=$1; shift; mariadb --no-defaults -uroot -S "$WORK/$name/s.sock" "$@"; }

# make_practices SERVER COUNT MB_EACH: EHR-like databases of about MB_EACH MB of SQL each
make_practices() {
  local srv=$1 count=$2 mb=$3
  local rows=$((mb * 4300))
  for i in $(seq 1 "$count"); do
    sql "$srv" -e "CREATE DATABASE practice_$i CHARACTER SET utf8mb4"
    sql "$srv" "practice_$i" -e "
      CREATE TABLE patient_data (pid INT PRIMARY KEY, pubpid VARCHAR(20), fname VARCHAR(40),
        lname VARCHAR(40), DOB DATE, sex VARCHAR(10), ss CHAR(11), street VARCHAR(80),
        email VARCHAR(80), notes TEXT, updated DATETIME, KEY (lname)) ENGINE=InnoDB;
      CREATE TABLE form_encounter (encounter INT PRIMARY KEY, pid INT, date DATETIME,
        reason VARCHAR(200), provider_id INT, KEY (pid)) ENGINE=InnoDB;
      INSERT INTO patient_data SELECT seq, CONCAT('P', seq), CONCAT('First', seq MOD 977),
        CONCAT('Last', MD5(seq)), DATE('1930-01-01') + INTERVAL (seq MOD 30000) DAY,
        IF(seq MOD 2, 'Female', 'Male'), CONCAT(LPAD(seq MOD 1000, 3, '0'), '-00-', LPAD(seq MOD 10000, 4, '0')),
        CONCAT(seq MOD 9999, ' Main Street'), CONCAT('user', seq, '@example.org'),
        REPEAT(CONCAT('note ', SHA1(seq), ' '), 1 + seq MOD 3), '2026-11-01 10:00:00'
        FROM seq_1_to_$((rows * 2 / 3));
      INSERT INTO form_encounter SELECT seq, 1 + seq MOD $((rows * 2 / 3)),
        '2026-01-01 08:00:00' + INTERVAL seq MINUTE, CONCAT('Follow-up visit ', SHA1(seq)), seq MOD 40
        FROM seq_1_to_$((rows / 3));"
  done
}

now() { date +%s.%N; }
# measure LABEL COMMAND...: runs COMMAND, records wall seconds, peak RSS (KiB) of the whole
# command line (for a pipeline, of its largest process) and CPU seconds of the processes it
# waited for in $WORK/results
measure() {
  local label=$1; shift
  local t0 t1 rss
  t0=$(now)
  /usr/bin/time -f '%M %U %S' -o "$WORK/rss.$$" bash -c "$*" >/dev/null 2>"$WORK/err.$$" || {
    echo "bench: '$label' failed:" >&2; tail -5 "$WORK/err.$$" >&2; exit 1; }
  t1=$(now)
  read -r rss usr sys < <(tail -1 "$WORK/rss.$$")
  echo "$label $(echo "$t1 - $t0" | bc -l) $rss $(echo "$usr + $sys" | bc -l)" >>"$WORK/results"
}
# cpu LABEL -> median CPU seconds (user + system) of the runs of LABEL
cpu() { awk -v l="$1" '$1 == l && NF >= 4 {print $4}' "$WORK/results" | median; }
# rss_of LABEL COMMAND: peak RSS of one process (drbackup itself, not the pipeline around it)
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
summary() {  # summary LABEL -> "median_seconds peak_rss_kib"
  local s r
  s=$(awk -v l="$1" '$1 == l {print $2}' "$WORK/results" | median)
  r=$(awk -v l="$1" '$1 == l {print $3}' "$WORK/results" | sort -n | tail -1)
  echo "$s $r"
}
ratio() { echo "scale=2; $1 / $2" | bc -l; }
report() {  # report LABEL REF_LABEL TARGET_TEXT
  local a b
  read -r as ar < <(summary "$1")
  read -r bs br < <(summary "$2")
  printf '%-34s %7.2f s  %8.1f MiB peak   %5.2fx of %s   (target %s)\n' "$1" "$as" "$(echo "$ar/1024" | bc -l)" \
    "$(ratio "$as" "$bs")" "$2" "$3"
}

keys_and_config() {  # keys_and_config SOURCE_SERVER: $WORK/drbackup.conf with two posix repos
  "$DRB" keygen --out "$WORK/dr" >/dev/null 2>&1
  "$DRB" keygen --sign --out "$WORK/sign" >/dev/null 2>&1
  mkdir -p "$WORK/r1" "$WORK/r2" "$WORK/spool"
  cat >"$WORK/drbackup.conf" <<CONF
host_id = "bench"
spool_dir = "$WORK/spool"
database { socket = "$WORK/$1/s.sock" user = "root" }
encryption { public_keys = {"$WORK/dr.pub"} secret_keys = {"$WORK/dr.key"} }
compression { level = 3 }
repo primary { type = "posix" path = "$WORK/r1" }
repo dr { type = "posix" path = "$WORK/r2" }
signing { key = "$WORK/sign.key" }
trust { host "bench" { signing_keys = {"$WORK/sign.pub"} } }
CONF
  chmod 600 "$WORK/drbackup.conf"
}
