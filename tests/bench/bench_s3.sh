#!/bin/bash
# Upload throughput to a local S3 server: drbackup against awscli and rclone, same bytes, same run.
#
#   tests/bench/bench_s3.sh [SIZE_MIB]        (default 1024; run from a build directory)
#
# SERVER=rgw (the default) runs a throwaway Ceph RGW (tests/rgw.sh, bluestore on a sparse file so
# gigabytes fit in little memory), which checks every signature and part size and does not
# re-copy on Complete; SERVER=s3rver runs the npm fake instead (tests/node_modules).
# DATA=random uploads incompressible bytes (/dev/urandom): `drbackup repo put` (zstd, then DRB1
# sealing) moves as many bytes as the others; DATA=sql uploads dump text, which drbackup
# compresses before it travels (what it does with every backup); DATA="random sql" (the default)
# does both in one run, against one server. A second drbackup figure, "driver", stores the same
# file through the S3 driver alone (a small program built here against the build's
# libdrbackup.a): the transfer without compression and sealing. Each tool runs with its default
# settings; peak RSS and the client's CPU (user + system) come from /usr/bin/time -v, the
# server's CPU (radosgw, the OSD and the monitor; s3rver's node) from /proc before and after.
# Client and server share the machine's cores, so the seconds are bounded by their sum. A last
# row, "ceiling", is the server's own limit: curl sends the file as one PUT (SigV4, unsigned
# payload, no digest: a client that does no work but the send, and a request no drbackup part
# makes), so "ceiling / awscli" is the most any client could be ahead of awscli on this machine,
# and drbackup's share of the ceiling's speed says how close it comes. The "steal" column is the
# CPU the hypervisor gave to others during each tool's runs (/proc/stat), which no tool gets
# back. Build without --enable-sanitizers for meaningful figures.
# Environment: DRB_BUILDDIR (default: .), DRB_SRCDIR (default: this script's tree), PARALLEL
# (drbackup's upload_parallel, default 4), PART (part_size, default 8388608), REPEAT (default 1:
# rounds of every tool in turn; each tool's median is reported, with the highest peak RSS of its
# runs), DRB_REF (another build's drbackup binary: a "reference" row, run in the same rounds, for
# before/after figures from one run).
set -eu

SIZE_MIB=${1:-1024}
REPEAT=${REPEAT:-1}
PARALLEL=${PARALLEL:-4}
PART=${PART:-8388608}
SERVER=${SERVER:-rgw}
KINDS=${DATA:-random sql}
BUILD=$(cd "${DRB_BUILDDIR:-.}" && pwd)
SRC=$(cd "${DRB_SRCDIR:-$(dirname "$0")/../..}" && pwd)
BIN=$BUILD/drbackup
REF=${DRB_REF:-}
AWS=/usr/bin/aws
S3RVER=$SRC/tests/node_modules/s3rver/bin/s3rver.js
RGW=$SRC/tests/rgw.sh

for need in "$BIN" "$AWS" /usr/bin/time ${REF:+"$REF"}; do
	[ -e "$need" ] || { echo "bench_s3: $need is missing" >&2; exit 2; }
done
[ "$SERVER" = rgw ] || [ -e "$S3RVER" ] || { echo "bench_s3: $S3RVER is missing" >&2; exit 2; }
for need in rclone curl; do
	command -v $need >/dev/null || { echo "bench_s3: $need is missing" >&2; exit 2; }
done
if grep -q 'fsanitize=address' "$BUILD/Makefile"; then
	echo "bench_s3: warning: $BUILD is a sanitizer build; figures will be low" >&2
	SANITIZE="-fsanitize=address,undefined"
else
	SANITIZE=""
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drb-bench-s3.XXXXXX")
S3PID=""
cleanup() {
	[ -n "$S3PID" ] && kill "$S3PID" 2>/dev/null && wait "$S3PID" 2>/dev/null
	[ "$SERVER" = rgw ] && "$RGW" stop "$WORK/rgw" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

if [ "$SERVER" = rgw ]; then
	# ---- Ceph RGW: one gateway, bluestore on a sparse file (6 tools x 2 kinds x SIZE per round
	# fit: RGW frees deleted data only hours later, at garbage collection)
	KEY=DRBBENCHKEY
	gib=$(( (SIZE_MIB * 12 * REPEAT + 1023) / 1024 + 4 ))
	RGW_GATEWAYS=a RGW_BUCKETS=bench RGW_STORE=bluestore RGW_STORE_GIB=$gib RGW_ACCESS_KEY=$KEY \
		"$RGW" start "$WORK/rgw" $$ >"$WORK/rgw.ports"
	PORT=$(awk '$1 == "a" { print $2 }' "$WORK/rgw.ports")
	SECRET=$(cat "$WORK/rgw/secret")
	SERVER_NAME="Ceph RGW 16 (bluestore)"
else
	# ---- s3rver on a free loopback port
	KEY=S3RVER
	SECRET=S3RVER
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$WORK/s3"
	node --openssl-legacy-provider "$S3RVER" -d "$WORK/s3" -a 127.0.0.1 -p "$PORT" -s \
		--configure-bucket bench >"$WORK/s3rver.log" 2>&1 &
	S3PID=$!
	SERVER_NAME=s3rver
fi
ENDPOINT=http://127.0.0.1:$PORT
i=0
until curl -s -o /dev/null --noproxy '*' "$ENDPOINT/"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "bench_s3: the S3 server did not start" >&2; exit 1; }
	sleep 0.1
done

# ---- the data
gen_data() { # KIND: $WORK/data.bin of SIZE_MIB MiB
	rm -f "$WORK/data.bin"
	if [ "$1" = sql ]; then
		# what drbackup really ships: dump text, which it compresses (about 4x) before upload;
		# the others upload it as it is
		echo "generating $SIZE_MIB MiB of SQL dump text..." >&2
		[ -e "$WORK/block.sql" ] || python3 - "$WORK/block.sql" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    n = 0
    while f.tell() < 64 * 1048576:
        rows = ",".join("(%d,'P%d','First%d','Last%08x','19%02d-%02d-%02d','%s','note %x %s')" % (
            n + i, n + i, random.randrange(977), random.getrandbits(32), random.randrange(100),
            random.randrange(1, 13), random.randrange(1, 29), random.choice(["Female", "Male"]),
            random.getrandbits(64), "lorem ipsum " * random.randrange(1, 4)) for i in range(200))
        f.write("INSERT INTO `patient_data` VALUES %s;\n" % rows)
        n += 200
PY
		: >"$WORK/data.bin"
		while [ "$(stat -c %s "$WORK/data.bin")" -lt $((SIZE_MIB * 1048576)) ]; do cat "$WORK/block.sql" >>"$WORK/data.bin"; done
		truncate -s $((SIZE_MIB * 1048576)) "$WORK/data.bin"
	else
		echo "generating $SIZE_MIB MiB of incompressible data..." >&2
		head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$WORK/data.bin"
	fi
}

# ---- the configurations
printf '%s\n' "$SECRET" >"$WORK/s3.secret"
chmod 600 "$WORK/s3.secret"
"$BIN" keygen --out "$WORK/dr" >/dev/null
cat >"$WORK/drbackup.conf" <<EOF
host_id = "bench"
spool_dir = "$WORK/spool"
encryption { public_keys = {"$WORK/dr.pub"} }
compression { level = 3 threads = 0 }
repo bench {
  type = "s3"
  endpoint = "$ENDPOINT"
  bucket = "bench"
  prefix = "drb"
  access_key_id = "$KEY"
  secret_access_key_file = "$WORK/s3.secret"
  part_size = $PART
  upload_parallel = $PARALLEL
}
EOF
chmod 600 "$WORK/drbackup.conf"
cat >"$WORK/rclone.conf" <<EOF
[bench]
type = s3
provider = Other
access_key_id = $KEY
secret_access_key = $SECRET
endpoint = $ENDPOINT
region = us-east-1
EOF
# curl's credentials in a file of its own (never on a command line)
(umask 077 && printf 'user = "%s:%s"\n' "$KEY" "$SECRET" >"$WORK/curl.conf")

# the driver alone: stdin to one object, through the repository interface
cat >"$WORK/s3put.c" <<'EOF'
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "common/error.h"
#include "common/repo.h"
#include "common/sink.h"
#include "s3/s3.h"
int main(int argc, char **argv)
{
	if (argc != 8)
		return 2;
	drb_repo_config c = {.name = "bench", .type = "s3", .endpoint = argv[1],
			     .region = "us-east-1", .bucket = "bench", .prefix = "raw",
			     .access_key_id = argv[7], .secret_access_key_file = argv[2],
			     .uri_style = "path", .part_size = atol(argv[4]),
			     .upload_parallel = atol(argv[5]), .timeout = 60, .retries = 3,
			     .sign_payload = true};
	drb_repo *r = NULL;
	drb_sink *w = NULL;
	drb_put_opts o = {.size_hint = strtoull(argv[6], NULL, 10)};
	char line[2048];
	drb_repo_register(&drb_s3_driver);
	int rc = drb_repo_open(&c, &r);
	if (rc == 0)
		rc = drb_repo_put(r, argv[3], &o, &w);
	if (rc == 0)
		rc = drb_pump_fd(0, w, "stdin", NULL);
	if (rc == 0)
		rc = drb_sink_finish(w);
	if (rc < 0) {
		drb_error_line(line, sizeof line);
		fprintf(stderr, "s3put: %s\n", line);
		if (w)
			drb_sink_abort(w);
	}
	drb_sink_free(w);
	drb_repo_close(r);
	return rc < 0;
}
EOF
LIBS=$(pkg-config --libs libcurl libzstd libsodium libarchive libconfuse libmariadb jansson \
	libxml-2.0 libcrypto)
CFLAGS_XML=$(pkg-config --cflags libxml-2.0)
${CC:-cc} -O2 $SANITIZE -I"$SRC" -I"$BUILD" $CFLAGS_XML -o "$WORK/s3put" "$WORK/s3put.c" \
	"$BUILD/libdrbackup.a" $LIBS -pthread

# ---- runs
# the server's CPU so far, in clock ticks: radosgw, the OSD and the monitor (0 for s3rver's node)
server_ticks() {
	local t=0 f pid
	for f in "$WORK"/rgw/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		[ -r "/proc/$pid/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
	done
	[ -n "$S3PID" ] && [ -r "/proc/$S3PID/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$S3PID/stat")))
	echo "$t"
}
HZ=$(getconf CLK_TCK)
# the machine's stolen time so far, in clock ticks: the hypervisor running someone else
steal_ticks() { awk '$1 == "cpu" { print $9; exit }' /proc/stat; }

# run NAME COMMAND...: time it once, record "NAME seconds peak-RSS-KiB client-CPU-s server-CPU-s
# steal-s" in $WORK/results
run() {
	name=$1
	shift
	[ "$SERVER" = rgw ] || rm -rf "$WORK/s3/bench/"* 2>/dev/null || true
	sync # the previous run's writeback must not land in this one's time
	sleep 1
	s0=$(server_ticks)
	st0=$(steal_ticks)
	if ! /usr/bin/time -v -o "$WORK/time.txt" sh -c "$*" >"$WORK/$name.out" 2>&1; then
		echo "bench_s3: $name failed:" >&2
		cat "$WORK/$name.out" >&2
		exit 1
	fi
	s1=$(server_ticks)
	st1=$(steal_ticks)
	awk -F': ' -v name="$name" -v srv="$(( s1 - s0 ))" -v steal="$(( st1 - st0 ))" -v hz="$HZ" '
		/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0
			for (i = 1; i <= n; i++) s = s * 60 + t[i] }
		/Maximum resident set size/ { rss = $2 }
		/User time \(seconds\)/ { cpu += $2 }
		/System time \(seconds\)/ { cpu += $2 }
		END { print name, s, rss, cpu, srv / hz, steal / hz }' "$WORK/time.txt" >>"$WORK/results"
}

AWSENV="env -u AWS_CA_BUNDLE -u AWS_PROFILE AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET \
AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
AWS_EC2_METADATA_DISABLED=true"
SIZE=$((SIZE_MIB * 1048576))

for kind in $KINDS; do
	gen_data "$kind"
	: >"$WORK/results"
	echo "uploading $SIZE_MIB MiB ($kind) with each tool (repeat $REPEAT)..." >&2
	# rounds of every tool in turn, so a change in the machine's load touches them alike; each
	# round stores new names (rclone skips a file already there with the same size and time)
	r=0
	while [ $r -lt "$REPEAT" ]; do
		r=$((r + 1))
		[ -z "$REF" ] || run reference "'$REF' -c '$WORK/drbackup.conf' repo put $kind/ref-$r.bin < '$WORK/data.bin'"
		run drbackup "'$BIN' -c '$WORK/drbackup.conf' repo put $kind/data-$r.bin < '$WORK/data.bin'"
		run driver "'$WORK/s3put' '$ENDPOINT' '$WORK/s3.secret' $kind/raw-$r.bin $PART $PARALLEL $SIZE '$KEY' < '$WORK/data.bin'"
		run awscli "$AWSENV $AWS --endpoint-url '$ENDPOINT' s3 cp '$WORK/data.bin' s3://bench/$kind/aws-$r.bin"
		run rclone "env -u AWS_CA_BUNDLE RCLONE_CONFIG='$WORK/rclone.conf' rclone copyto '$WORK/data.bin' bench:bench/$kind/rclone-$r.bin"
		run ceiling "curl -sSf --noproxy '*' -o /dev/null -K '$WORK/curl.conf' --aws-sigv4 aws:amz:us-east-1:s3 -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T '$WORK/data.bin' '$ENDPOINT/bench/$kind/curl-$r.bin'"
	done

	# ---- report
	# the median of each tool's times (the lower middle one for an even count), the highest
	# peak RSS of its runs
	awk -v size="$SIZE_MIB" -v part="$PART" -v par="$PARALLEL" -v kind="$kind" -v srv="$SERVER_NAME" \
		-v ref="$REF" '
		{ n[$1]++; t[$1, n[$1]] = $2; if ($3 > r[$1]) r[$1] = $3; c[$1, n[$1]] = $4; sv[$1, n[$1]] = $5
		  st[$1, n[$1]] = $6 }
		function median(k, arr,   i, j, m, v, a) {
			m = n[k]
			for (i = 1; i <= m; i++) a[i] = arr[k, i]
			for (i = 2; i <= m; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
			return a[int((m + 1) / 2)]
		}
		END {
			printf "S3 upload of %d MiB of %s to %s on 127.0.0.1 (drbackup: part_size %d, upload_parallel %d), median of %d\n",
				size, kind == "sql" ? "dump text" : "incompressible bytes", srv, part, par, n["drbackup"]
			printf "%-10s %9s %10s %12s %12s %12s %9s\n", "tool", "seconds", "MiB/s", "peak RSS MiB",
				"client CPU s", "server CPU s", "steal s"
			split((ref != "" ? "reference " : "") "drbackup driver awscli rclone ceiling", order, " ")
			for (i = 1; i in order; i++) {
				k = order[i]
				m[k] = median(k, t)
				printf "%-10s %9.2f %10.1f %12.1f %12.2f %12.2f %9.2f\n", k, m[k], size / m[k],
					r[k] / 1024, median(k, c), median(k, sv), median(k, st)
			}
			split((ref != "" ? "reference " : "") "drbackup driver", who, " ")
			for (i = 1; i in who; i++)
				printf "%-9s / awscli: %.2fx   %-9s / rclone: %.2fx\n", who[i], m["awscli"] / m[who[i]],
					who[i], m["rclone"] / m[who[i]]
			if (ref != "")
				printf "drbackup / reference: %.2fx\n", m["reference"] / m["drbackup"]
			printf "ceiling   / awscli: %.2fx (the most any client could be ahead of awscli here); drbackup runs at %.0f%% of the ceiling\n",
				m["awscli"] / m["ceiling"], 100 * m["ceiling"] / m["drbackup"]
		}' "$WORK/results"
	rm -f "$WORK/data.bin"
done
