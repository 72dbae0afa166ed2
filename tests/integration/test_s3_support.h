/* What the S3 integration tests share: a running s3rver with a secret file and a repository
 * configuration for it, deterministic data of any size, and a TCP proxy.
 *
 * The proxy sits on 127.0.0.1 between the S3 driver and s3rver: it
 * sees the HTTP traffic, so a test can act at an exact point of a request (kill the server when
 * part 3 is 1 MiB into its body, when the Complete request arrives, 3 MiB into a GET's answer),
 * prove that parts travel in parallel (answers are held until N part uploads are open at once),
 * or answer by itself with canned responses (errors s3rver cannot produce). */
#ifndef TEST_S3_SUPPORT_H
#define TEST_S3_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/repo.h"
#include "tests/harness.h"

#define S3T_BUCKETS "bucket1,bucket2"

typedef struct s3t {
	bool ok;     /* false: s3rver is not installed, tests skip */
	bool broken; /* installed but would not start: tests fail */
	drbt_s3 srv;
	char *dir;
	char secret[PATH_MAX];
} s3t;

/* Start s3rver (buckets bucket1, bucket2) and write a 0600 secret file; registers the driver. */
void s3t_setup(s3t *t);
void s3t_teardown(s3t *t);
/* A repo section for bucket1 below prefix, at endpoint (NULL: the server itself): 5 MiB parts,
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
/* A second s3rver for host-style URLs: "<bucket>.s3.localhost" routes to the bucket (curl
 * resolves *.localhost to loopback by itself). endpoint gets "http://s3.localhost:PORT". Returns
 * its pid, 0 when it did not start; stop it with s3t_vhost_stop. */
pid_t s3t_vhost_start(s3t *t, char *endpoint, size_t len);
void s3t_vhost_stop(pid_t pid);

/* The current error as one line, for assertions on messages. */
const char *s3t_error(void);

/* At the top of each test: skip when s3rver is not installed, fail when it would not start. */
#define S3T_NEED(t)                                                                                \
	do {                                                                                       \
		if ((t)->broken)                                                                   \
			fail_msg("s3rver is installed but did not start");                         \
		if (!(t)->ok) {                                                                    \
			fprintf(stderr, "skipped: s3rver is not installed\n");                     \
			skip();                                                                    \
		}                                                                                  \
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
