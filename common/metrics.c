#include "config.h"
#include "common/metrics.h"
#include "common/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct line {
	char *series; /* name{labels} */
	char *name;
	char *help;
	char *value;
} line;

typedef struct lines {
	line *v;
	int n, cap;
} lines;

static void set(lines *l, const char *series, const char *name, const char *help,
		const char *value)
{
	line *v = l->v;
	int *n = &l->n;
	for (int i = 0; i < *n; i++)
		if (strcmp(v[i].series, series) == 0) {
			free(v[i].value);
			v[i].value = strdup(value);
			if (help && !v[i].help)
				v[i].help = strdup(help);
			return;
		}
	if (*n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 64;
		line *nv = realloc(l->v, (size_t)cap * sizeof *nv);
		if (!nv)
			return;
		l->v = v = nv;
		l->cap = cap;
	}
	v[*n] = (line){strdup(series), strdup(name), help ? strdup(help) : NULL, strdup(value)};
	(*n)++;
}

static int by_series(const void *a, const void *b)
{
	const line *x = a, *y = b;
	int c = strcmp(x->name, y->name); /* a metric's series together, under one TYPE line */
	return c ? c : strcmp(x->series, y->series);
}

int drb_metrics_update(const drb_config *c, const drb_metric *m, int n)
{
	return drb_metrics_replace(c, NULL, m, n);
}

int drb_metrics_replace(const drb_config *c, const char *prefix, const drb_metric *m, int n)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16], lockp[PATH_MAX + 16], buf[4096];
	lines l = {0};
	int rc = 0;
	if (!c->metrics_dir)
		return 0;
	snprintf(path, sizeof path, "%s/drbackup.prom", c->metrics_dir);
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	snprintf(lockp, sizeof lockp, "%s/.drbackup.prom.lock", c->metrics_dir);
	int lfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lfd >= 0)
		flock(lfd, LOCK_EX); /* commands run side by side: merge one at a time */
	FILE *f = fopen(path, "re");
	char help_name[256] = "", help_text[512] = "";
	while (f && fgets(buf, sizeof buf, f)) {
		buf[strcspn(buf, "\n")] = 0;
		if (strncmp(buf, "# HELP ", 7) == 0) {
			char *sp = strchr(buf + 7, ' ');
			if (sp) {
				snprintf(help_name, sizeof help_name, "%.*s", (int)(sp - buf - 7), buf + 7);
				snprintf(help_text, sizeof help_text, "%s", sp + 1);
			}
			continue;
		}
		if (buf[0] == '#' || !buf[0])
			continue;
		char *sp = strrchr(buf, ' ');
		if (!sp)
			continue;
		*sp = 0;
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)strcspn(buf, "{"), buf);
		if (prefix && strncmp(name, prefix, strlen(prefix)) == 0)
			continue; /* the caller writes the whole family anew */
		set(&l, buf, name, strcmp(name, help_name) == 0 ? help_text : NULL, sp + 1);
	}
	if (f)
		fclose(f);
	for (int i = 0; i < n; i++) {
		char series[1024], value[64];
		if (m[i].labels && *m[i].labels)
			snprintf(series, sizeof series, "%s{%s}", m[i].name, m[i].labels);
		else
			snprintf(series, sizeof series, "%s", m[i].name);
		snprintf(value, sizeof value, "%.17g", m[i].value);
		set(&l, series, m[i].name, m[i].help, value);
	}
	line *v = l.v;
	int nv = l.n;
	if (nv)
		qsort(v, (size_t)nv, sizeof *v, by_series);
	f = fopen(tmp, "we");
	if (!f) {
		rc = drb_error_errno(0, errno, "writing metrics %s", tmp);
	} else {
		const char *last = "";
		for (int i = 0; i < nv; i++) {
			if (strcmp(last, v[i].name) != 0) {
				if (v[i].help)
					fprintf(f, "# HELP %s %s\n", v[i].name, v[i].help);
				fprintf(f, "# TYPE %s gauge\n", v[i].name);
				last = v[i].name;
			}
			fprintf(f, "%s %s\n", v[i].series, v[i].value);
		}
		if (fflush(f) != 0 || fsync(fileno(f)) != 0)
			rc = drb_error_errno(0, errno, "writing metrics %s", tmp);
		fclose(f);
		if (rc == 0 && rename(tmp, path) < 0)
			rc = drb_error_errno(0, errno, "writing metrics %s", path);
		if (rc < 0)
			unlink(tmp);
		else
			chmod(path, 0644);
	}
	for (int i = 0; i < nv; i++) {
		free(v[i].series);
		free(v[i].name);
		free(v[i].help);
		free(v[i].value);
	}
	free(v);
	if (lfd >= 0)
		close(lfd);
	return rc;
}
