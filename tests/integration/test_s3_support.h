/* What the S3 integration tests share: a running Ceph RGW with a secret file and a repository
 * configuration for it, deterministic data of any size, and a TCP proxy.
 *
 * The proxy sits on 127.0.0.1 between the S3 driver and RGW: it
 * sees the HTTP traffic, so a test can act at an exact point of a request (kill the server when
 * part 3 is 1 MiB into its body, when the Complete request arrives, 3 MiB into a GET's answer),
 * prove that parts travel in parallel (answers are held until N part uploads are open at once),
 * or answer by itself with canned responses (answers no healthy server gives). */
#ifndef TEST_S3_SUPPORT_H
#define TEST_S3_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/repo.h"
#include "tests/harness.h"

#define S3T_BUCKETS  "bucket1 bucket2"
#define S3T_GATEWAYS 2

/* A throwaway Ceph cluster on 127.0.0.1 (tests/rgw.sh): one monitor, one OSD, and one radosgw
 * per "region", each on its own port, so one region can be killed while the other serves. It
 * checks what S3 checks: every signature, part sizes, atomic PUTs, conditional requests. */
typedef struct s3t_rgw {
	char dir[PATH_MAX];
	int port[S3T_GATEWAYS];
	pid_t pid[S3T_GATEWAYS];         /* 0: not running */
	char endpoint[S3T_GATEWAYS][64]; /* "http://127.0.0.1:PORT" */
	char access_key[64];
	char secret[128];
	char secret_file[PATH_MAX + 16]; /* mode 0600: the secret and a newline */
} s3t_rgw;

/* Start a cluster with these buckets (space-separated), reachable through every gateway. Once
 * per test program (2-3 s); it is stopped at exit, and by a guard process should the program
 * die without exiting. 0, or -1 with the reason on stderr (RGW missing is a failure). */
int s3t_rgw_start(s3t_rgw *g, const char *buckets);
/* kill -9 gateway i (its data stays in the cluster), and start it again on the same port. */
void s3t_rgw_kill(s3t_rgw *g, int i);
int s3t_rgw_restart(s3t_rgw *g, int i);
/* Stop every daemon by PID and remove the folder. Safe to call twice. */
void s3t_rgw_stop(s3t_rgw *g);

typedef struct s3t {
	bool ok; /* false: RGW did not start (or is not installed): every test fails */
	s3t_rgw rgw;
	char *dir;
	char secret[PATH_MAX];
} s3t;

/* Start RGW (buckets bucket1, bucket2) and write a 0600 secret file; registers the driver. */
void s3t_setup(s3t *t);
void s3t_teardown(s3t *t);
/* A repo section for bucket1 below prefix, at endpoint (NULL: the first gateway): 5 MiB parts,
 * 4 in flight, 6 retries. */
drb_repo_config s3t_config(s3t *t, const char *endpoint, const char *prefix);
/* Bytes of a deterministic stream: the same seed and offset always give the same bytes. */
void s3t_fill(uint64_t seed, uint64_t offset, void *buf, size_t len);
/* Store size bytes of stream seed at path, written in chunks of `chunk`; sha gets their SHA-256.
 * Returns the first error of write/finish (the writer is aborted then). */
int s3t_put(drb_repo *r, const char *path, uint64_t size, size_t chunk, uint64_t seed,
            char sha[65]);
/* SHA-256 and length of the object at path, read through the driver. */
int s3t_get(drb_repo *r, const char *path, char sha[65], uint64_t *len);
/* SHA-256 of the stream seed, size bytes. */
void s3t_sha(uint64_t seed, uint64_t size, char sha[65]);

/* The current error as one line, for assertions on messages. */
const char *s3t_error(void);

/* At the top of each test: fail (never skip: a skip passes in CI) when RGW is not running. */
#define S3T_NEED(t)                                                                                \
	do {                                                                                       \
		if (!(t)->ok)                                                                      \
			fail_msg("Ceph RGW did not start (apt-get install radosgw ceph-mon "       \
			         "ceph-osd ceph-common); see the messages above");                 \
	} while (0)

typedef struct s3p s3p;

/* Forward to 127.0.0.1:upstream_port (0: answer only from the canned list). */
s3p *s3p_start(int upstream_port);
void s3p_stop(s3p *p);
int s3p_port(const s3p *p);
/* "http://127.0.0.1:PORT" */
const char *s3p_endpoint(const s3p *p);

/* Once: when pattern has passed in the requests (to_server) or the answers, and then `after`
 * more bytes, call fn(ud) before forwarding anything further. */
void s3p_arm(s3p *p, bool to_server, const char *pattern, size_t after, void (*fn)(void *),
             void *ud);
bool s3p_fired(s3p *p);

/* Once: when pattern has passed in the requests and then `after` more bytes, change the next
 * byte (one bit) and forward the rest as it comes: a body damaged on the way. */
void s3p_flip(s3p *p, const char *pattern, size_t after);
bool s3p_flipped(s3p *p);

/* Hold the answers to requests whose first line contains pattern until n of them are open at
 * once. s3p_gate_reached tells whether that happened (false after a 30 s safety timeout). */
void s3p_gate(s3p *p, const char *pattern, unsigned n);
bool s3p_gate_reached(s3p *p);

/* Answer each request with the next of these (whole HTTP responses, "\n" turned into "\r\n" in
 * the head); when they run out, 500. Requests are recorded: s3p_request(p, i) gives the head
 * (request line and headers) of request i, NULL past the end. */
void s3p_canned(s3p *p, const char *const *responses, size_t n);
const char *s3p_request(s3p *p, size_t i);
size_t s3p_requests(s3p *p);

#endif
