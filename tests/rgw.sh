#!/bin/bash
# A throwaway Ceph cluster on loopback for the S3 tests and benchmarks: one monitor, one OSD and
# one or more radosgw gateways (one per "region"), cephx off, every file under DIR.
#
#   tests/rgw.sh start DIR [OWNER_PID]   build and start it; prints one line per gateway,
#                                        "NAME PORT PID"; with OWNER_PID, a guard stops the
#                                        cluster once that process is gone (a test that crashed)
#   tests/rgw.sh gw DIR NAME             (re)start gateway NAME on its port; prints its PID
#   tests/rgw.sh stop DIR                stop everything, by PID, and remove DIR
#
# Environment for start: RGW_GATEWAYS (names, default "a b"), RGW_BUCKETS (default
# "bucket1 bucket2"), RGW_LOCK_BUCKETS (more buckets, created with Object Lock enabled: versioned,
# for good), RGW_STORAGE_CLASSES (storage classes besides STANDARD, e.g. "STANDARD_IA GLACIER",
# each with its own data pool), RGW_STORE (memstore, default: memory holds ~2x the data; bluestore: a
# sparse file of RGW_STORE_GIB GiB, default 16, for benchmarks that store gigabytes), RGW_ACCESS_KEY
# and RGW_SECRET (default DRBTESTKEY and a random secret; DIR/secret holds it, mode 0600).
# Ports are picked at runtime among free ones, so runs on one machine do not collide. Nothing
# listens on anything but 127.0.0.1. Recipe and quirks: shared/notes/s3.md, "A real S3 for tests".
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
	echo "usage: rgw.sh start|gw|stop DIR ..." >&2
	exit 2
}

say() { echo "rgw.sh: $*" >&2; }
die() { # with the end of the logs: a failed start removes nothing, but a guard may
	say "$*"
	[ -d "${dir:-}/log" ] && tail -n 5 "$dir"/log/*.out "$dir"/log/*.log 2>/dev/null | sed 's/^/rgw.sh:   /' >&2
	exit 1
}

free_port() { # a port nobody listens on now (the daemon's bind is the real test)
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 40000))
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
			echo "$p"
			return 0
		}
	done
	return 1
}

ceph_() { timeout 30 ceph -c "$dir/ceph.conf" "$@"; }

# spawn NAME COMMAND...: a daemon in its own session, stdio to its log, PID to DIR/NAME.pid
spawn() {
	local name=$1
	shift
	setsid "$@" </dev/null >>"$dir/log/$name.out" 2>&1 &
	echo $! >"$dir/$name.pid"
}

# running PID: a zombie is gone too (a container's init may be slow to reap the orphans)
running() { [ -r "/proc/$1/stat" ] && ! awk '{ exit $3 != "Z" }' "/proc/$1/stat" 2>/dev/null; }
alive() { [ -f "$dir/$1.pid" ] && running "$(cat "$dir/$1.pid")"; }

# stop_one NAME: KILL, and wait until it is gone. The cluster is thrown away, so there is
# nothing to flush, and radosgw takes 2-10 s to leave on TERM.
stop_one() {
	local name=$1 pid
	[ -f "$dir/$name.pid" ] || return 0
	pid=$(cat "$dir/$name.pid")
	if kill -KILL "$pid" 2>/dev/null; then
		for _ in $(seq 1 100); do
			running "$pid" || break
			sleep 0.02
		done
	fi
	rm -f "$dir/$name.pid"
}

# start_gw NAME: start it on its port and wait until it answers HTTP; prints its PID
start_gw() {
	local name=$1 port pid
	port=$(cat "$dir/gw.$name.port")
	stop_one "gw.$name"
	spawn "gw.$name" radosgw -c "$dir/ceph.conf" -n "client.rgw.$name" -f \
		--rgw_frontends "beast endpoint=127.0.0.1:$port tcp_nodelay=1"
	pid=$(cat "$dir/gw.$name.pid")
	for _ in $(seq 1 600); do
		if curl -s -o /dev/null --noproxy '*' --max-time 2 "http://127.0.0.1:$port/"; then
			echo "$pid"
			return 0
		fi
		running "$pid" || return 1
		sleep 0.05
	done
	return 1
}

kill_all() {
	local f n
	for f in "$dir"/gw.*.pid; do
		[ -e "$f" ] || continue
		n=${f##*/}
		stop_one "${n%.pid}"
	done
	stop_one osd
	stop_one mon
}

case "$cmd" in
start)
	# a start that fails leaves nothing running; its folder stays, for the logs
	trap '[ $? = 0 ] || kill_all' EXIT
	owner=${3:-}
	gateways=${RGW_GATEWAYS:-a b}
	buckets=${RGW_BUCKETS:-bucket1 bucket2}
	store=${RGW_STORE:-memstore}
	key=${RGW_ACCESS_KEY:-DRBTESTKEY}
	secret=${RGW_SECRET:-$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 40)}
	for b in radosgw ceph-mon ceph-osd ceph monmaptool ceph-authtool radosgw-admin curl; do
		command -v "$b" >/dev/null ||
			die "$b is missing: apt-get install --no-install-recommends radosgw ceph-mon ceph-osd ceph-common"
	done
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	mkdir -p "$dir/run" "$dir/log" "$dir/mon" "$dir/osd/ceph-0" "$dir/rgw"
	chmod 700 "$dir"
	(umask 077 && printf '%s\n' "$secret" >"$dir/secret")
	fsid=$(cat /proc/sys/kernel/random/uuid)
	osd_uuid=$(cat /proc/sys/kernel/random/uuid)

	# the monitor: retried on another port if someone took this one meanwhile
	for try in 1 2 3 4 5; do
		monport=$(free_port) || die "no free port"
		if [ "$store" = bluestore ]; then
			storecfg="osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = $(( ${RGW_STORE_GIB:-16} * 1024 * 1024 * 1024 ))
bluestore_cache_size = 67108864
osd_memory_target = 268435456"
		else
			storecfg="osd_objectstore = memstore
memstore_device_bytes = $(( ${RGW_STORE_GIB:-4} * 1024 * 1024 * 1024 ))"
		fi
		cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$monport]
public_addr = 127.0.0.1
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_bind_msgr1 = false
ms_mon_client_mode = crc
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
paxos_propose_interval = 0.05
run_dir = $dir/run
admin_socket = $dir/run/\$name.asok
log_file = $dir/log/\$name.log
keyring = $dir/keyring
mon_data = $dir/mon/\$cluster-\$id
osd_data = $dir/osd/\$cluster-\$id
rgw_data = $dir/rgw/\$cluster-\$id
$storecfg
osd_max_object_size = 134217728
rgw_dns_name = s3.localhost
rgw_lc_debug_interval = 10
EOF
		if [ "$try" = 1 ]; then
			monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$monport]" \
				"$dir/monmap" >/dev/null 2>&1
			ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' \
				>/dev/null
			ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" \
				--keyring "$dir/keyring" >>"$dir/log/mkfs.out" 2>&1 ||
				die "ceph-mon --mkfs failed: $dir/log/mkfs.out"
		else
			monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$monport]" \
				"$dir/monmap" >/dev/null 2>&1
			rm -rf "$dir/mon/ceph-a"
			ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" \
				--keyring "$dir/keyring" >>"$dir/log/mkfs.out" 2>&1 ||
				die "ceph-mon --mkfs failed: $dir/log/mkfs.out"
		fi
		spawn mon ceph-mon -c "$dir/ceph.conf" -i a -f
		ok=""
		for _ in $(seq 1 100); do
			alive mon || break
			if ceph_ --connect-timeout 2 mon stat >/dev/null 2>&1; then
				ok=1
				break
			fi
			sleep 0.05
		done
		[ -n "$ok" ] && break
		stop_one mon
	done
	[ -n "$ok" ] || die "the monitor did not start: $dir/log"

	# the guard: stops the cluster when the owner (a test program) has gone, however it died
	if [ -n "$owner" ]; then
		setsid bash -c 'while [ -d "$2" ] && awk '\''{ exit $3 == "Z" }'\'' "/proc/$1/stat" 2>/dev/null; do sleep 0.5; done
			[ -d "$2" ] && exec "$3" stop "$2"' guard "$owner" "$dir" "$(readlink -f "$0")" \
			</dev/null >/dev/null 2>&1 &
		echo $! >"$dir/guard.pid"
	fi

	id=$(ceph_ osd new "$osd_uuid" 2>>"$dir/log/mkfs.out") || die "ceph osd new failed"
	[ "$id" = 0 ] || die "unexpected OSD id $id"
	ceph-osd -c "$dir/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$dir/log/mkfs.out" 2>&1 ||
		die "ceph-osd --mkfs failed: $dir/log/mkfs.out"
	spawn osd ceph-osd -c "$dir/ceph.conf" -i 0 -f
	for _ in $(seq 1 200); do
		ceph_ osd stat 2>/dev/null | grep -q ' 1 up' && break
		alive osd || die "the OSD died: $dir/log"
		sleep 0.05
	done
	ceph_ osd stat 2>/dev/null | grep -q ' 1 up' || die "the OSD did not come up: $dir/log"

	# the user (this also creates the default zone), then the gateways and the buckets
	timeout 60 radosgw-admin -c "$dir/ceph.conf" user create --uid drbtest --display-name drbtest \
		--access-key "$key" --secret-key "$secret" >>"$dir/log/mkfs.out" 2>&1 ||
		die "radosgw-admin user create failed: $dir/log/mkfs.out"
	# storage classes: in the zonegroup's placement and the zone's, before any gateway starts
	for sc in ${RGW_STORAGE_CLASSES:-}; do
		pool=default.rgw.$(echo "$sc" | tr 'A-Z_' 'a-z-').data
		timeout 60 radosgw-admin -c "$dir/ceph.conf" zonegroup placement add \
			--rgw-zonegroup default --placement-id default-placement --storage-class "$sc" \
			>>"$dir/log/mkfs.out" 2>&1 || die "adding storage class $sc to the zonegroup failed"
		timeout 60 radosgw-admin -c "$dir/ceph.conf" zone placement add --rgw-zone default \
			--placement-id default-placement --storage-class "$sc" --data-pool "$pool" \
			>>"$dir/log/mkfs.out" 2>&1 || die "adding storage class $sc to the zone failed"
	done
	for g in $gateways; do # on another port if this one was taken meanwhile
		pid=""
		for _ in 1 2 3; do
			free_port >"$dir/gw.$g.port" || die "no free port"
			pid=$(start_gw "$g") && break
			pid=""
			say "radosgw $g did not start on port $(cat "$dir/gw.$g.port"); once more"
		done
		[ -n "$pid" ] || die "radosgw $g did not start: $dir/log"
		echo "$g $(cat "$dir/gw.$g.port") $pid"
	done
	first=$(set -- $gateways && echo "$1")
	port=$(cat "$dir/gw.$first.port")
	# make_bucket NAME [HEADER]: PUT the bucket (with HEADER, e.g. Object Lock enabled)
	make_bucket() {
		local code
		code=$(curl -s -o "$dir/log/bucket.out" -w '%{http_code}' --noproxy '*' -X PUT \
			--aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" \
			-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" ${2:+-H "$2"} "http://127.0.0.1:$port/$1")
		[ "$code" = 200 ] || die "creating bucket $1: HTTP $code $(cat "$dir/log/bucket.out")"
	}
	for b in $buckets; do
		make_bucket "$b"
	done
	for b in ${RGW_LOCK_BUCKETS:-}; do
		make_bucket "$b" "x-amz-bucket-object-lock-enabled: true"
	done
	;;
gw)
	name=${3:?gateway name}
	start_gw "$name" || die "radosgw $name did not start: $dir/log"
	;;
stop)
	[ -d "$dir" ] || exit 0
	kill_all
	if [ -f "$dir/guard.pid" ]; then
		g=$(cat "$dir/guard.pid")
		[ "$g" = "$$" ] || kill "$g" 2>/dev/null || true
	fi
	[ -n "${DRBT_KEEP:-}" ] || rm -rf "$dir"
	;;
*)
	echo "usage: rgw.sh start|gw|stop DIR ..." >&2
	exit 2
	;;
esac
