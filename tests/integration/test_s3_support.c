/* What test_s3_support.h promises. The proxy: one thread accepts, one thread per connection
 * forwards with poll(). Patterns are searched in the last bytes of the previous chunk plus the
 * new one, so a request line split across reads still matches. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/sink.h"
#include "s3/s3.h"
#include "tests/integration/test_s3_support.h"

/* ---------------------------------------------------------------- Ceph RGW */

#define MAX_CLUSTERS 4

static s3t_rgw *clusters[MAX_CLUSTERS]; /* stopped at exit, whatever the tests did */

static void stop_all(void)
{
	for (int i = 0; i < MAX_CLUSTERS; i++)
		if (clusters[i])
			s3t_rgw_stop(clusters[i]);
}

/* Gone, or a zombie its (adoptive) parent has not reaped yet. */
static bool running(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *rp = strrchr(buf, ')');
	return !(rp && rp[1] == ' ' && rp[2] == 'Z');
}

/* Run tests/rgw.sh with args; its stdout lines go to line(ud, text). */
static int rgw_script(const char *args, void (*line)(void *, char *), void *ud)
{
	char cmd[PATH_MAX * 3], buf[512];
	snprintf(cmd, sizeof cmd, "'%s/tests/rgw.sh' %s", drbt_srcdir(), args);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(buf, sizeof buf, f))
		if (line)
			line(ud, buf);
	int st = pclose(f);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void gateway_line(void *ud, char *text)
{
	s3t_rgw *g = ud;
	char name[8];
	int port, pid;
	if (sscanf(text, "%7s %d %d", name, &port, &pid) != 3 || name[1] || name[0] < 'a' ||
	    name[0] >= 'a' + S3T_GATEWAYS)
		return;
	int i = name[0] - 'a';
	g->port[i] = port;
	g->pid[i] = pid;
	snprintf(g->endpoint[i], sizeof g->endpoint[i], "http://127.0.0.1:%d", port);
}

int s3t_rgw_start(s3t_rgw *g, const char *buckets)
{
	char args[PATH_MAX * 2], *dir = drbt_tmpdir("rgw");
	FILE *f;
	memset(g, 0, sizeof *g);
	if (!dir)
		return -1;
	snprintf(g->dir, sizeof g->dir, "%s", dir);
	free(dir);
	snprintf(g->access_key, sizeof g->access_key, "DRBTESTKEY");
	snprintf(g->secret_file, sizeof g->secret_file, "%s/secret", g->dir);
	/* rgw.sh reads these: every gateway a region, the buckets made through the first */
	setenv("RGW_GATEWAYS", "a b", 1);
	setenv("RGW_BUCKETS", buckets, 1);
	setenv("RGW_ACCESS_KEY", g->access_key, 1);
	snprintf(args, sizeof args, "start '%s' %d", g->dir, (int)getpid());
	for (int i = 0; i < MAX_CLUSTERS; i++)
		if (!clusters[i]) {
			static bool registered;
			if (!registered && atexit(stop_all) == 0)
				registered = true;
			clusters[i] = g;
			break;
		}
	int rc = rgw_script(args, gateway_line, g);
	for (int i = 0; i < S3T_GATEWAYS; i++)
		if (!g->pid[i])
			rc = -1;
	if (rc == 0 && (f = fopen(g->secret_file, "r"))) {
		if (!fgets(g->secret, sizeof g->secret, f))
			rc = -1;
		g->secret[strcspn(g->secret, "\n")] = 0;
		fclose(f);
	} else {
		rc = -1;
	}
	if (rc < 0) {
		fprintf(stderr, "Ceph RGW did not start: see the lines above and %s/log\n", g->dir);
		s3t_rgw_stop(g);
	}
	return rc;
}

void s3t_rgw_kill(s3t_rgw *g, int i)
{
	if (g->pid[i] <= 0)
		return;
	kill(g->pid[i], SIGKILL);
	for (int n = 0; n < 500 && running(g->pid[i]); n++)
		usleep(10000);
	g->pid[i] = 0;
}

static void pid_line(void *ud, char *text)
{
	*(pid_t *)ud = (pid_t)atoi(text);
}

int s3t_rgw_restart(s3t_rgw *g, int i)
{
	char args[PATH_MAX + 32];
	pid_t pid = 0;
	s3t_rgw_kill(g, i);
	snprintf(args, sizeof args, "gw '%s' %c", g->dir, 'a' + i);
	if (rgw_script(args, pid_line, &pid) < 0 || pid <= 0) {
		fprintf(stderr, "radosgw %c did not start again: see %s/log\n", 'a' + i, g->dir);
		return -1;
	}
	g->pid[i] = pid;
	return 0;
}

void s3t_rgw_stop(s3t_rgw *g)
{
	char args[PATH_MAX + 16];
	for (int i = 0; i < MAX_CLUSTERS; i++)
		if (clusters[i] == g)
			clusters[i] = NULL;
	if (!g->dir[0])
		return;
	snprintf(args, sizeof args, "stop '%s'", g->dir);
	rgw_script(args, NULL, NULL);
	memset(g->pid, 0, sizeof g->pid);
	g->dir[0] = 0;
}

/* ---------------------------------------------------------------- server, config, data */

void s3t_setup(s3t *t)
{
	memset(t, 0, sizeof *t);
	/* nothing of this suite may leave the machine: no proxy from the environment */
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	t->dir = drbt_tmpdir("s3test");
	snprintf(t->secret, sizeof t->secret, "%s/s3.secret", t->dir);
	if (s3t_rgw_start(&t->rgw, S3T_BUCKETS) < 0)
		return;
	char text[160];
	snprintf(text, sizeof text, "%s\n", t->rgw.secret);
	if (drbt_write_file(t->secret, text, 0600) < 0)
		return;
	drb_repo_register(&drb_s3_driver);
	if (getenv("DRBT_S3_DEBUG")) /* every retry and resume, on stderr */
		drb_log_init(1);
	t->ok = true;
}

void s3t_teardown(s3t *t)
{
	s3t_rgw_stop(&t->rgw);
	if (t->dir && !getenv("DRBT_KEEP"))
		drbt_rmtree(t->dir);
	free(t->dir);
	t->dir = NULL;
}

drb_repo_config s3t_config(s3t *t, const char *endpoint, const char *prefix)
{
	drb_repo_config c = {.name = "s3test",
	                     .type = "s3",
	                     .endpoint = endpoint ? endpoint : t->rgw.endpoint[0],
	                     .region = "us-east-1",
	                     .bucket = "bucket1",
	                     .prefix = prefix,
	                     .access_key_id = t->rgw.access_key,
	                     .secret_access_key_file = t->secret,
	                     .uri_style = "path",
	                     .part_size = 5L * 1024 * 1024,
	                     .upload_parallel = 4,
	                     .timeout = 30,
	                     .retries = 6,
	                     .sign_payload = true}; /* the configuration's default */
	return c;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void s3t_fill(uint64_t seed, uint64_t offset, void *buf, size_t len)
{
	unsigned char *b = buf;
	while (len) {
		uint64_t word = offset / 8, v = splitmix(seed * 0x100000001b3ull + word);
		unsigned start = (unsigned)(offset % 8);
		for (unsigned i = start; i < 8 && len; i++, len--, offset++)
			*b++ = (unsigned char)(v >> (8 * i));
	}
}

int s3t_put(drb_repo *r, const char *path, uint64_t size, size_t chunk, uint64_t seed, char sha[65])
{
	drb_sink *w = NULL, *h = drb_hash_filter_new(drb_null_sink_new());
	unsigned char *buf = malloc(chunk);
	drb_put_opts o = {0};
	int rc = drb_repo_put(r, path, &o, &w);
	for (uint64_t off = 0; rc == 0 && off < size; off += chunk) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
		s3t_fill(seed, off, buf, n);
		drb_sink_write(h, buf, n);
		rc = drb_sink_write(w, buf, n);
	}
	if (rc == 0)
		rc = drb_sink_finish(w);
	if (rc < 0 && w) {
		drb_error_state st;
		drb_error_save(&st);
		drb_sink_abort(w);
		drb_error_restore(&st);
	}
	drb_sink_finish(h);
	snprintf(sha, 65, "%s", drb_hash_filter_hex(h));
	drb_sink_free(w);
	drb_sink_free(h);
	free(buf);
	return rc;
}

int s3t_get(drb_repo *r, const char *path, char sha[65], uint64_t *len)
{
	drb_sink *h = drb_hash_filter_new(drb_null_sink_new());
	int rc = drb_repo_get(r, path, h);
	drb_sink_finish(h);
	snprintf(sha, 65, "%s", drb_hash_filter_hex(h));
	if (len)
		*len = drb_hash_filter_bytes(h);
	drb_sink_free(h);
	return rc;
}

void s3t_sha(uint64_t seed, uint64_t size, char sha[65])
{
	drb_sink *h = drb_hash_filter_new(drb_null_sink_new());
	unsigned char *buf = malloc(1 << 20);
	for (uint64_t off = 0; off < size; off += 1 << 20) {
		size_t n = size - off < (1 << 20) ? (size_t)(size - off) : (1 << 20);
		s3t_fill(seed, off, buf, n);
		drb_sink_write(h, buf, n);
	}
	drb_sink_finish(h);
	snprintf(sha, 65, "%s", drb_hash_filter_hex(h));
	drb_sink_free(h);
	free(buf);
}

const char *s3t_error(void)
{
	static char line[4 * DRB_ERROR_LEN];
	drb_error_line(line, sizeof line);
	return line;
}

/* ---------------------------------------------------------------- the proxy */

#define MAX_FDS      256
#define TAIL         255
#define CHUNK        65536
#define GATE_TIMEOUT 30

struct s3p {
	int listen_fd, port, upstream;
	char endpoint[64];
	pthread_t acceptor;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	int fds[MAX_FDS];
	unsigned live;
	/* trigger */
	bool armed, to_server, fired, counting;
	char pattern[256];
	size_t after;
	void (*fn)(void *);
	void *ud;
	/* flip: one request byte changed on the way */
	bool flip_on, flip_counting, flipped;
	char flip_pattern[128];
	size_t flip_after;
	/* gate */
	char gate_pattern[128];
	unsigned gate_n, open;
	bool gate_on, gate_reached;
	time_t gate_since;
	/* canned */
	char **responses;
	size_t n_responses, next_response;
	char **requests;
	size_t n_requests;
};

typedef struct conn {
	s3p *p;
	int cfd, sfd;
	char tail[2][TAIL];
	size_t tlen[2];
	bool mine;        /* this connection carries the armed trigger */
	size_t remaining; /* bytes to forward before firing */
	bool flip_mine;   /* this connection carries the byte to flip */
	size_t flip_at;   /* bytes to forward before it */
	bool req_open;    /* a gated request waits for its answer */
} conn;

static void track_fd(s3p *p, int fd, bool add)
{
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < MAX_FDS; i++)
		if (add ? p->fds[i] < 0 : p->fds[i] == fd) {
			p->fds[i] = add ? fd : -1;
			break;
		}
	pthread_mutex_unlock(&p->lock);
}

static int write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Find pat in tail + chunk; returns the offset in chunk just after the match, or -1. */
static long find(conn *c, int dir, const char *chunk, size_t n, const char *pat)
{
	size_t plen = strlen(pat), tl = c->tlen[dir];
	char *buf = malloc(tl + n);
	long at = -1;
	memcpy(buf, c->tail[dir], tl);
	memcpy(buf + tl, chunk, n);
	char *m = plen ? memmem(buf, tl + n, pat, plen) : NULL;
	if (m) {
		long end = (long)(m - buf) + (long)plen - (long)tl;
		at = end < 0 ? 0 : end;
	}
	free(buf);
	return at;
}

static void remember(conn *c, int dir, const char *chunk, size_t n)
{
	char buf[TAIL * 2];
	size_t tl = c->tlen[dir], take = n < TAIL ? n : TAIL;
	memcpy(buf, c->tail[dir], tl);
	memcpy(buf + tl, chunk + n - take, take);
	size_t all = tl + take, keep = all < TAIL ? all : TAIL;
	memcpy(c->tail[dir], buf + all - keep, keep);
	c->tlen[dir] = keep;
}

/* Forward one chunk in direction dir (0: to the server). Returns -1 to end the connection. */
static int pass(conn *c, int dir, const char *buf, size_t n)
{
	s3p *p = c->p;
	int to = dir == 0 ? c->sfd : c->cfd;
	size_t limit = n;
	bool fire = false;
	pthread_mutex_lock(&p->lock);
	if (dir == 0 && p->gate_on && !c->req_open && find(c, dir, buf, n, p->gate_pattern) >= 0) {
		c->req_open = true;
		if (++p->open >= p->gate_n)
			p->gate_reached = true;
	}
	if (dir == 1 && c->req_open) {
		c->req_open = false;
		p->open--;
	}
	if (p->armed && !p->fired && p->to_server == (dir == 0)) {
		if (!p->counting) {
			long at = find(c, dir, buf, n, p->pattern);
			if (at >= 0) {
				p->counting = c->mine = true;
				c->remaining = p->after + (size_t)at;
			}
		}
		if (c->mine) {
			if (c->remaining <= n) {
				limit = c->remaining;
				fire = true;
				p->fired = true;
			} else {
				c->remaining -= n;
			}
		}
	}
	char *changed = NULL;
	if (dir == 0 && p->flip_on && !p->flipped) {
		if (!p->flip_counting) {
			long at = find(c, dir, buf, n, p->flip_pattern);
			if (at >= 0) {
				p->flip_counting = c->flip_mine = true;
				c->flip_at = p->flip_after + (size_t)at;
			}
		}
		if (c->flip_mine && c->flip_at < n && (changed = malloc(n))) {
			memcpy(changed, buf, n);
			changed[c->flip_at] ^= 0x01;
			p->flipped = true;
		} else if (c->flip_mine) {
			c->flip_at -= n;
		}
	}
	pthread_mutex_unlock(&p->lock);
	remember(c, dir, buf, n);
	int wr = limit ? write_all(to, changed ? changed : buf, limit) : 0;
	free(changed);
	if (wr < 0)
		return -1;
	if (fire) {
		p->fn(p->ud);
		return -1; /* nothing after the fault point goes through */
	}
	return 0;
}

static bool holding(conn *c)
{
	s3p *p = c->p;
	bool hold;
	pthread_mutex_lock(&p->lock);
	if (p->gate_on && !p->gate_reached && time(NULL) - p->gate_since > GATE_TIMEOUT)
		p->gate_on = false; /* give up; s3p_gate_reached stays false */
	hold = c->req_open && p->gate_on && !p->gate_reached;
	pthread_mutex_unlock(&p->lock);
	return hold;
}

static void forward(conn *c)
{
	char *buf = malloc(CHUNK);
	for (;;) {
		bool hold = holding(c);
		struct pollfd pf[2] = {{c->cfd, POLLIN, 0}, {c->sfd, hold ? 0 : POLLIN, 0}};
		int r = poll(pf, 2, 20);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || c->p->stopping)
			break;
		for (int dir = 0; dir < 2; dir++) {
			if (!(pf[dir].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = recv(pf[dir].fd, buf, CHUNK, 0);
			if (n <= 0 || pass(c, dir, buf, (size_t)n) < 0)
				goto out;
		}
	}
out:
	free(buf);
}

/* ---- canned answers ---- */

static char *canned_answer(const char *text, size_t *len)
{
	const char *sep = strstr(text, "\n\n");
	const char *body = sep ? sep + 2 : "";
	size_t hl = sep ? (size_t)(sep - text) : strlen(text), bl = strlen(body);
	char *out = malloc(2 * hl + bl + 64), *o = out;
	for (size_t i = 0; i < hl; i++) {
		if (text[i] == '\n')
			*o++ = '\r';
		*o++ = text[i];
	}
	if (!strcasestr(text, "content-length:") ||
	    (sep && strcasestr(text, "content-length:") > sep))
		o += sprintf(o, "\r\nContent-Length: %zu", bl);
	o += sprintf(o, "\r\n\r\n");
	memcpy(o, body, bl);
	*len = (size_t)(o - out) + bl;
	return out;
}

static void serve_canned(conn *c)
{
	s3p *p = c->p;
	char *buf = malloc(CHUNK);
	size_t have = 0;
	for (;;) {
		char *end = have ? memmem(buf, have, "\r\n\r\n", 4) : NULL;
		if (!end) {
			if (have == CHUNK)
				break;
			ssize_t n = recv(c->cfd, buf + have, CHUNK - have, 0);
			if (n <= 0)
				break;
			have += (size_t)n;
			continue;
		}
		size_t head = (size_t)(end - buf) + 4;
		char *h = strndup(buf, head - 4);
		const char *cl = strcasestr(h, "\ncontent-length:");
		size_t body = cl ? strtoull(cl + 16, NULL, 10) : 0;
		/* drop the body, wherever it is */
		size_t in_buf = have - head < body ? have - head : body;
		memmove(buf, buf + head + in_buf, have - head - in_buf);
		have -= head + in_buf;
		for (size_t left = body - in_buf; left;) {
			char sink[CHUNK];
			ssize_t n = recv(c->cfd, sink, left < sizeof sink ? left : sizeof sink, 0);
			if (n <= 0)
				goto out_h;
			left -= (size_t)n;
		}
		pthread_mutex_lock(&p->lock);
		p->requests = realloc(p->requests, (p->n_requests + 1) * sizeof *p->requests);
		p->requests[p->n_requests++] = strdup(h);
		const char *text = p->next_response < p->n_responses
		                       ? p->responses[p->next_response++]
		                       : "HTTP/1.1 500 Internal Server Error\n\n<Error><Code>"
		                         "InternalError</Code><Message>no more canned answers"
		                         "</Message></Error>";
		size_t len;
		char *ans = canned_answer(text, &len);
		pthread_mutex_unlock(&p->lock);
		int rc = write_all(c->cfd, ans, len);
		free(ans);
		free(h);
		if (rc < 0 || strcasestr(text, "Connection: close"))
			break;
		continue;
	out_h:
		free(h);
		break;
	}
	free(buf);
}

static void *conn_main(void *arg)
{
	conn *c = arg;
	s3p *p = c->p;
	if (p->upstream) {
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_port = htons((uint16_t)p->upstream),
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		c->sfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(c->sfd, (struct sockaddr *)&a, sizeof a) == 0) {
			track_fd(p, c->sfd, true);
			forward(c);
			track_fd(p, c->sfd, false);
		}
		close(c->sfd);
	} else {
		serve_canned(c);
	}
	pthread_mutex_lock(&p->lock);
	if (c->req_open)
		p->open--;
	if (c->mine)
		p->counting = false;
	pthread_mutex_unlock(&p->lock);
	track_fd(p, c->cfd, false);
	close(c->cfd);
	free(c);
	pthread_mutex_lock(&p->lock);
	p->live--;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void *accept_main(void *arg)
{
	s3p *p = arg;
	for (;;) {
		int fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		conn *c = calloc(1, sizeof *c);
		c->p = p;
		c->cfd = fd;
		c->sfd = -1;
		pthread_t t;
		pthread_mutex_lock(&p->lock);
		bool stop = p->stopping;
		if (!stop)
			p->live++;
		pthread_mutex_unlock(&p->lock);
		if (stop) {
			close(fd);
			free(c);
			break;
		}
		track_fd(p, fd, true);
		pthread_create(&t, NULL, conn_main, c);
		pthread_detach(t);
	}
	return NULL;
}

s3p *s3p_start(int upstream_port)
{
	s3p *p = calloc(1, sizeof *p);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (int i = 0; i < MAX_FDS; i++)
		p->fds[i] = -1;
	p->upstream = upstream_port;
	p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(p->listen_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(p->listen_fd, 64) < 0 ||
	    getsockname(p->listen_fd, (struct sockaddr *)&a, &l) < 0) {
		close(p->listen_fd);
		free(p);
		return NULL;
	}
	p->port = ntohs(a.sin_port);
	snprintf(p->endpoint, sizeof p->endpoint, "http://127.0.0.1:%d", p->port);
	pthread_create(&p->acceptor, NULL, accept_main, p);
	return p;
}

void s3p_stop(s3p *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	for (int i = 0; i < MAX_FDS; i++)
		if (p->fds[i] >= 0)
			shutdown(p->fds[i], SHUT_RDWR);
	pthread_mutex_unlock(&p->lock);
	shutdown(p->listen_fd, SHUT_RDWR);
	close(p->listen_fd);
	pthread_join(p->acceptor, NULL);
	pthread_mutex_lock(&p->lock);
	while (p->live)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->n_requests; i++)
		free(p->requests[i]);
	free(p->requests);
	free(p->responses);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

int s3p_port(const s3p *p)
{
	return p->port;
}

const char *s3p_endpoint(const s3p *p)
{
	return p->endpoint;
}

void s3p_flip(s3p *p, const char *pattern, size_t after)
{
	pthread_mutex_lock(&p->lock);
	snprintf(p->flip_pattern, sizeof p->flip_pattern, "%s", pattern);
	p->flip_after = after;
	p->flip_counting = p->flipped = false;
	p->flip_on = true;
	pthread_mutex_unlock(&p->lock);
}

static bool flag_of(s3p *p, const bool *flag)
{
	pthread_mutex_lock(&p->lock);
	bool f = *flag;
	pthread_mutex_unlock(&p->lock);
	return f;
}

bool s3p_flipped(s3p *p)
{
	return flag_of(p, &p->flipped);
}

void s3p_arm(s3p *p, bool to_server, const char *pattern, size_t after, void (*fn)(void *),
             void *ud)
{
	pthread_mutex_lock(&p->lock);
	p->armed = true;
	p->fired = p->counting = false;
	p->to_server = to_server;
	snprintf(p->pattern, sizeof p->pattern, "%s", pattern);
	p->after = after;
	p->fn = fn;
	p->ud = ud;
	pthread_mutex_unlock(&p->lock);
}

bool s3p_fired(s3p *p)
{
	return flag_of(p, &p->fired);
}

void s3p_gate(s3p *p, const char *pattern, unsigned n)
{
	pthread_mutex_lock(&p->lock);
	snprintf(p->gate_pattern, sizeof p->gate_pattern, "%s", pattern);
	p->gate_n = n;
	p->gate_on = true;
	p->gate_reached = false;
	p->gate_since = time(NULL);
	pthread_mutex_unlock(&p->lock);
}

bool s3p_gate_reached(s3p *p)
{
	return flag_of(p, &p->gate_reached);
}

void s3p_canned(s3p *p, const char *const *responses, size_t n)
{
	pthread_mutex_lock(&p->lock);
	free(p->responses);
	p->responses = malloc((n ? n : 1) * sizeof *p->responses);
	memcpy(p->responses, responses, n * sizeof *responses);
	p->n_responses = n;
	p->next_response = 0;
	for (size_t i = 0; i < p->n_requests; i++)
		free(p->requests[i]);
	p->n_requests = 0;
	pthread_mutex_unlock(&p->lock);
}

const char *s3p_request(s3p *p, size_t i)
{
	pthread_mutex_lock(&p->lock);
	const char *r = i < p->n_requests ? p->requests[i] : NULL;
	pthread_mutex_unlock(&p->lock);
	return r;
}

size_t s3p_requests(s3p *p)
{
	pthread_mutex_lock(&p->lock);
	size_t n = p->n_requests;
	pthread_mutex_unlock(&p->lock);
	return n;
}
