#include "config.h"
#include "restore/load.h"
#include "restore/sqlcheck.h"
#include "common/error.h"
#include "common/log.h"

#include <errno.h>
#include <mysql.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define READ_BUF (1u << 20)

/* ------------------------------------------------------------------ reading statements */

typedef struct buf {
	char *p;
	size_t len, cap;
} buf;

static int buf_put(buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return drb_error(DRB_ERR_NOMEM, "out of memory");
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

typedef struct reader {
	int fd;
	char *in;
	size_t pos, end;
	bool eof;
	char delim[16];
	size_t delim_len;
	bool literal_backslash; /* sql_mode NO_BACKSLASH_ESCAPES is on for what follows */
	bool ansi_quotes;       /* sql_mode ANSI_QUOTES: "x" is an identifier */
	const char *what;
} reader;

/* Make at least n bytes available at r->pos unless the input ends first. */
static int ensure(reader *r, size_t n)
{
	while (r->end - r->pos < n && !r->eof) {
		if (r->pos > 0) {
			memmove(r->in, r->in + r->pos, r->end - r->pos);
			r->end -= r->pos;
			r->pos = 0;
		}
		ssize_t got = read(r->fd, r->in + r->end, READ_BUF - r->end);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return drb_error_errno(DRB_ERR_IO, errno, "reading %s", r->what);
		if (got == 0)
			r->eof = true;
		r->end += (size_t)got;
	}
	return 0;
}

/* The next byte, or -1 at the end (or on a read error, with the error set). */
static inline int peekc(reader *r)
{
	if (r->pos == r->end && (ensure(r, 1) < 0 || r->pos == r->end))
		return -1;
	return (unsigned char)r->in[r->pos];
}

static void skip_line(reader *r)
{
	for (;;) {
		int c = peekc(r);
		if (c < 0)
			return;
		r->pos++;
		if (c == '\n')
			return;
	}
}

enum { SQ_NONE, SQ_SINGLE, SQ_DOUBLE, SQ_BACK, SQ_LINE, SQ_BLOCK };

/* Between statements: blank lines, comment lines and DELIMITER commands (the client's, never
 * the server's). Returns 0, or a negative error. */
static int skip_between(reader *r)
{
	for (;;) {
		int rc = ensure(r, 12);
		if (rc < 0)
			return rc;
		if (r->pos == r->end)
			return 0;
		char c = r->in[r->pos];
		if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
			r->pos++;
			continue;
		}
		size_t avail = r->end - r->pos;
		const char *p = r->in + r->pos;
		if (c == '#' || (avail >= 3 && p[0] == '-' && p[1] == '-' &&
				 (p[2] == ' ' || p[2] == '\t' || p[2] == '\n')) ||
		    (avail == 2 && p[0] == '-' && p[1] == '-')) {
			skip_line(r);
			continue;
		}
		if (avail >= 10 && strncasecmp(p, "DELIMITER ", 10) == 0) {
			r->pos += 10;
			char d[32];
			size_t n = 0;
			for (;;) {
				int ch = peekc(r);
				if (ch < 0 || ch == '\n')
					break;
				r->pos++;
				if (ch != ' ' && ch != '\t' && ch != '\r' && n < sizeof d - 1)
					d[n++] = (char)ch;
			}
			if (n == 0 || n >= sizeof r->delim)
				return drb_error(DRB_ERR_FORMAT, "%s: a DELIMITER line without a delimiter",
						 r->what);
			memcpy(r->delim, d, n);
			r->delim[n] = 0;
			r->delim_len = n;
			continue;
		}
		return 0;
	}
}

/* One statement into b, without its delimiter. 1 when read, 0 at the end of the input. */
static int next_statement(reader *r, buf *b)
{
	int state = SQ_NONE, rc;
	b->len = 0;
	if (b->p)
		b->p[0] = 0;
	if ((rc = skip_between(r)) < 0)
		return rc;
	if (r->pos == r->end && r->eof)
		return 0;
	for (;;) {
		if (r->pos == r->end && (rc = ensure(r, 1)) < 0)
			return rc;
		if (r->pos == r->end) {
			if (state == SQ_SINGLE || state == SQ_DOUBLE || state == SQ_BACK)
				return drb_error(DRB_ERR_FORMAT, "%s ends inside a quoted string", r->what);
			return b->len ? 1 : 0; /* a last statement without its delimiter */
		}
		const char *s = r->in + r->pos, *e = r->in + r->end;
		if (state == SQ_SINGLE || state == SQ_DOUBLE || state == SQ_BACK) {
			char q = state == SQ_SINGLE ? '\'' : state == SQ_DOUBLE ? '"' : '`';
			const char *p = s;
			bool esc = state != SQ_BACK && !r->literal_backslash &&
				   !(state == SQ_DOUBLE && r->ansi_quotes);
			while (p < e && *p != q && !(*p == '\\' && esc))
				p++;
			if ((rc = buf_put(b, s, (size_t)(p - s))) < 0)
				return rc;
			r->pos += (size_t)(p - s);
			if (p == e)
				continue;
			if ((rc = ensure(r, 2)) < 0)
				return rc;
			if (*(r->in + r->pos) == '\\') {
				size_t n = r->end - r->pos >= 2 ? 2 : 1;
				if ((rc = buf_put(b, r->in + r->pos, n)) < 0)
					return rc;
				r->pos += n;
				continue;
			}
			/* the closing quote, unless doubled */
			bool doubled = r->end - r->pos >= 2 && r->in[r->pos + 1] == q;
			size_t n = doubled ? 2 : 1;
			if ((rc = buf_put(b, r->in + r->pos, n)) < 0)
				return rc;
			r->pos += n;
			if (!doubled)
				state = SQ_NONE;
			continue;
		}
		if (state == SQ_LINE || state == SQ_BLOCK) {
			char c = *s;
			if ((rc = buf_put(b, s, 1)) < 0)
				return rc;
			r->pos++;
			if (state == SQ_LINE && c == '\n')
				state = SQ_NONE;
			else if (state == SQ_BLOCK && c == '*') {
				if ((rc = ensure(r, 1)) < 0)
					return rc;
				if (r->pos < r->end && r->in[r->pos] == '/') {
					if ((rc = buf_put(b, "/", 1)) < 0)
						return rc;
					r->pos++;
					state = SQ_NONE;
				}
			}
			continue;
		}
		/* outside quotes: copy a run of ordinary bytes at once */
		const char *p = s;
		while (p < e && *p != '\'' && *p != '"' && *p != '`' && *p != '#' && *p != '-' &&
		       *p != '/' && *p != r->delim[0])
			p++;
		if (p > s) {
			if ((rc = buf_put(b, s, (size_t)(p - s))) < 0)
				return rc;
			r->pos += (size_t)(p - s);
			continue;
		}
		if ((rc = ensure(r, r->delim_len > 3 ? r->delim_len : 3)) < 0)
			return rc;
		s = r->in + r->pos;
		size_t avail = r->end - r->pos;
		char c = *s;
		if (c == r->delim[0] && avail >= r->delim_len &&
		    memcmp(s, r->delim, r->delim_len) == 0) {
			r->pos += r->delim_len;
			return 1;
		}
		if (c == '\'')
			state = SQ_SINGLE;
		else if (c == '"')
			state = SQ_DOUBLE;
		else if (c == '`')
			state = SQ_BACK;
		else if (c == '#')
			state = SQ_LINE;
		else if (c == '-' && avail >= 3 && s[1] == '-' &&
			 (s[2] == ' ' || s[2] == '\t' || s[2] == '\n'))
			state = SQ_LINE;
		else if (c == '/' && avail >= 2 && s[1] == '*')
			state = SQ_BLOCK; /* executable ones too: the checker refuses what it hides */
		if ((rc = buf_put(b, s, 1)) < 0)
			return rc;
		r->pos++;
	}
}

/* ------------------------------------------------------------------ the tables */

enum { COL_TEXT, COL_HEX, COL_BIT, COL_OTHER };

typedef struct table {
	char *key; /* `db`.`table` (col list) */
	int *kinds;
	char **names;
	size_t n;
	bool loadable;
} table;

typedef struct loader {
	MYSQL *m;
	reader r;
	buf stmt, ahead, tsv;
	bool have_ahead;
	char db[512];
	bool local_infile;
	table *tables;
	size_t n_tables;
	/* the LOAD DATA run being streamed */
	const table *run;
	char *prefix; /* "INSERT INTO `t` (...) VALUES " of the run */
	size_t prefix_len;
	size_t tsv_pos;
	uint64_t run_rows;
	bool failed;
	const char *expect_db; /* the only database the dump may name */
	drb_sqlcheck chk;
	char infile_error[DRB_ERROR_LINE];
	drb_load_stats *st;
	const char *what;
} loader;

/* What a statement is, for messages: its first words, never its values. */
static void statement_kind(const char *stmt, char *out, size_t len)
{
	size_t n = 0;
	int words = 0;
	for (const char *p = stmt; *p && n + 1 < len && words < 3; p++) {
		if (*p == '(' || *p == '\'' || *p == '"' || *p == '=')
			break;
		if (*p == ' ' || *p == '\n' || *p == '\t') {
			if (n && out[n - 1] != ' ') {
				out[n++] = ' ';
				words++;
			}
			continue;
		}
		out[n++] = *p;
	}
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = 0;
}

static int sql_fail(loader *l, const char *stmt)
{
	char kind[120], msg[600];
	statement_kind(stmt, kind, sizeof kind);
	snprintf(msg, sizeof msg, "%s", mysql_error(l->m));
	drb_redact_quoted(msg);
	return drb_error(DRB_ERR_DATABASE, "%s: %s (error %u) in %s", l->what, msg, mysql_errno(l->m),
			 kind);
}

/* Warnings mean data changed on the way in: not acceptable for a restore. */
static int no_warnings(loader *l, const char *stmt)
{
	if (mysql_warning_count(l->m) == 0)
		return 0;
	char msg[400] = "", kind[120];
	bool harmless = true;
	statement_kind(stmt, kind, sizeof kind);
	if (mysql_query(l->m, "SHOW WARNINGS") == 0) {
		MYSQL_RES *res = mysql_store_result(l->m);
		MYSQL_ROW row;
		while (res && (row = mysql_fetch_row(res))) {
			/* an event loaded while the scheduler is off (as in a scratch server) is the
			 * same event: it changes no data */
			if (row[2] && strncasecmp(stmt, "CREATE", 6) == 0 && strcasestr(stmt, " EVENT ") &&
			    strncmp(row[2], "Event scheduler is switched off", 31) == 0)
				continue;
			if (harmless && row[2])
				snprintf(msg, sizeof msg, "%s", row[2]);
			harmless = false;
		}
		if (res)
			mysql_free_result(res);
	} else {
		harmless = false;
	}
	if (harmless)
		return 0;
	drb_redact_quoted(msg);
	return drb_error(DRB_ERR_DATABASE, "%s: the server changed data while loading (%s) in %s",
			 l->what, msg, kind);
}

static int exec(loader *l, const char *stmt, size_t len)
{
	l->st->statements++;
	if (mysql_real_query(l->m, stmt, len) != 0)
		return sql_fail(l, stmt);
	do {
		MYSQL_RES *res = mysql_store_result(l->m);
		if (res)
			mysql_free_result(res);
	} while (mysql_next_result(l->m) == 0);
	/* a routine created under NO_BACKSLASH_ESCAPES: its body's backslashes are plain bytes,
	 * as the mariadb client reads them */
	l->r.literal_backslash = (l->m->server_status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0;
	l->r.ansi_quotes = l->chk.ansi_quotes;
	return no_warnings(l, stmt);
}

/* `name` at p (doubled backticks inside); the name into out. Returns the end, or NULL. */
static const char *parse_ident(const char *p, const char *end, char *out, size_t len)
{
	size_t n = 0;
	if (p >= end || *p != '`')
		return NULL;
	for (p++; p < end; p++) {
		if (*p == '`') {
			if (p + 1 < end && p[1] == '`')
				p++;
			else
				break;
		}
		if (n + 1 < len)
			out[n++] = *p;
	}
	out[n] = 0;
	return p < end ? p + 1 : NULL;
}

static void note_use(loader *l, const char *stmt, size_t len)
{
	if (len > 5 && strncasecmp(stmt, "USE ", 4) == 0) {
		char name[256];
		if (parse_ident(stmt + 4, stmt + len, name, sizeof name))
			snprintf(l->db, sizeof l->db, "%s", name);
	}
}

static int kind_of(const char *type)
{
	static const char *const hex[] = {"binary", "varbinary", "tinyblob", "blob", "mediumblob",
					  "longblob", NULL};
	static const char *const text[] = {"char", "varchar", "tinytext", "text", "mediumtext",
					   "longtext", "enum", "set", "json", "date", "time",
					   "datetime", "timestamp", "year", "tinyint", "smallint",
					   "mediumint", "int", "bigint", "decimal", "float", "double",
					   "uuid", "inet4", "inet6", NULL};
	for (int i = 0; hex[i]; i++)
		if (strcasecmp(type, hex[i]) == 0)
			return COL_HEX;
	if (strcasecmp(type, "bit") == 0)
		return COL_BIT;
	for (int i = 0; text[i]; i++)
		if (strcasecmp(type, text[i]) == 0)
			return COL_TEXT;
	return COL_OTHER; /* geometry and anything new: sent as SQL */
}

static void escape_sql(MYSQL *m, char *out, size_t len, const char *in)
{
	size_t n = strlen(in);
	if (2 * n + 1 > len)
		n = (len - 1) / 2;
	mysql_real_escape_string(m, out, in, (unsigned long)n);
}

/* Column kinds of db.table for the columns named in an INSERT's list. */
static const table *table_for(loader *l, const char *tname, const char *cols, size_t cols_len)
{
	char key[2048];
	snprintf(key, sizeof key, "%s.%s(%.*s)", l->db, tname, (int)(cols_len < 1500 ? cols_len : 1500),
		 cols);
	for (size_t i = 0; i < l->n_tables; i++)
		if (strcmp(l->tables[i].key, key) == 0)
			return &l->tables[i];
	table *v = realloc(l->tables, (l->n_tables + 1) * sizeof *v);
	if (!v)
		return NULL;
	l->tables = v;
	table *t = &l->tables[l->n_tables++];
	memset(t, 0, sizeof *t);
	t->key = strdup(key);
	t->loadable = l->local_infile;
	/* the named columns */
	const char *p = cols, *end = cols + cols_len;
	while (p < end) {
		char name[256];
		const char *q = parse_ident(p, end, name, sizeof name);
		if (!q) {
			t->loadable = false;
			break;
		}
		char **nv = realloc(t->names, (t->n + 1) * sizeof *nv);
		int *kv = realloc(t->kinds, (t->n + 1) * sizeof *kv);
		if (nv)
			t->names = nv;
		if (kv)
			t->kinds = kv;
		if (!nv || !kv) {
			t->loadable = false;
			break;
		}
		t->names[t->n] = strdup(name);
		t->kinds[t->n] = COL_OTHER;
		t->n++;
		p = q;
		while (p < end && (*p == ',' || *p == ' '))
			p++;
	}
	/* their types */
	char edb[600], et[600], sql[1600];
	escape_sql(l->m, edb, sizeof edb, l->db);
	escape_sql(l->m, et, sizeof et, tname);
	snprintf(sql, sizeof sql,
		 "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA "
		 "= '%s' AND TABLE_NAME = '%s'",
		 edb, et);
	if (t->loadable && mysql_query(l->m, sql) == 0) {
		MYSQL_RES *res = mysql_store_result(l->m);
		MYSQL_ROW row;
		while (res && (row = mysql_fetch_row(res)))
			for (size_t i = 0; i < t->n; i++)
				if (row[0] && row[1] && strcmp(t->names[i], row[0]) == 0)
					t->kinds[i] = kind_of(row[1]);
		if (res)
			mysql_free_result(res);
	} else {
		t->loadable = false;
	}
	for (size_t i = 0; i < t->n; i++)
		if (t->kinds[i] == COL_OTHER)
			t->loadable = false;
	return t;
}

/* An INSERT of ours: "INSERT INTO `t` (`a`,`b`) VALUES (...),(...)". On a match, the table
 * name, where the column list is, and where the values start. */
static bool parse_insert(const char *s, size_t len, char *tname, size_t tlen, const char **cols,
			 size_t *cols_len, size_t *values_at)
{
	static const char head[] = "INSERT INTO ";
	if (len < sizeof head || memcmp(s, head, sizeof head - 1) != 0)
		return false;
	const char *end = s + len, *p = parse_ident(s + sizeof head - 1, end, tname, tlen);
	if (!p || p + 2 > end || p[0] != ' ' || p[1] != '(')
		return false;
	*cols = p + 2;
	const char *q = *cols;
	while (q < end) {
		char name[256];
		const char *n = parse_ident(q, end, name, sizeof name);
		if (!n)
			return false;
		q = n;
		if (q < end && *q == ',') {
			q++;
			continue;
		}
		break;
	}
	static const char values[] = ") VALUES ";
	if ((size_t)(end - q) < sizeof values - 1 || memcmp(q, values, sizeof values - 1) != 0)
		return false;
	*cols_len = (size_t)(q - *cols);
	*values_at = (size_t)(q + sizeof values - 1 - s);
	return true;
}

static int tsv_put(buf *b, const char *s, size_t n)
{
	return buf_put(b, s, n);
}

static const char hexdig[] = "0123456789ABCDEF";

/* Unescape one SQL string literal at *pp (after its opening quote) into the TSV, escaped for
 * LOAD DATA, or as hex digits when hex is set. */
static int put_string(const char **pp, const char *end, buf *out, bool hex)
{
	const char *p = *pp;
	for (;;) {
		const char *run = p;
		while (p < end && *p != '\'' && *p != '\\' && *p != '\t' && !hex)
			p++;
		if (p > run && tsv_put(out, run, (size_t)(p - run)) < 0)
			return -1;
		if (p >= end)
			return -1;
		char c = *p;
		unsigned char v;
		if (c == '\'') {
			if (p + 1 < end && p[1] == '\'') {
				v = '\'';
				p += 2;
			} else {
				*pp = p + 1;
				return 0;
			}
		} else if (c == '\\') {
			if (p + 1 >= end)
				return -1;
			switch (p[1]) {
			case '0': v = 0; break;
			case 'b': v = 8; break;
			case 'n': v = '\n'; break;
			case 'r': v = '\r'; break;
			case 't': v = '\t'; break;
			case 'Z': v = 26; break;
			case '%':
			case '_':
				/* MariaDB keeps the backslash of \% and \_ */
				if (!hex && tsv_put(out, "\\\\", 2) < 0)
					return -1;
				if (hex) {
					char h[2] = {'5', 'C'};
					if (tsv_put(out, h, 2) < 0)
						return -1;
				}
				v = (unsigned char)p[1];
				break;
			default: v = (unsigned char)p[1];
			}
			p += 2;
		} else {
			v = (unsigned char)c;
			p++;
		}
		/* one byte out */
		char o[2];
		size_t on = 0;
		if (hex) {
			o[0] = hexdig[v >> 4];
			o[1] = hexdig[v & 15];
			on = 2;
		} else if (v == 0) {
			o[0] = '\\', o[1] = '0', on = 2;
		} else if (v == '\t') {
			o[0] = '\\', o[1] = 't', on = 2;
		} else if (v == '\n') {
			o[0] = '\\', o[1] = 'n', on = 2;
		} else if (v == '\r') {
			o[0] = '\\', o[1] = 'r', on = 2;
		} else if (v == '\\') {
			o[0] = '\\', o[1] = '\\', on = 2;
		} else {
			o[0] = (char)v, on = 1;
		}
		if (tsv_put(out, o, on) < 0)
			return -1;
	}
}

/* Convert the VALUES of one INSERT into TSV rows. -1 when it is not what we wrote. */
static int to_tsv(const table *t, const char *v, const char *end, buf *out, uint64_t *rows)
{
	const char *p = v;
	size_t start = out->len;
	uint64_t n = 0;
	while (p < end) {
		if (*p != '(')
			goto bad;
		p++;
		for (size_t i = 0; i < t->n; i++) {
			bool hex = t->kinds[i] != COL_TEXT;
			if (i && tsv_put(out, "\t", 1) < 0)
				goto bad;
			if (p + 4 <= end && memcmp(p, "NULL", 4) == 0) {
				if (tsv_put(out, "\\N", 2) < 0)
					goto bad;
				p += 4;
			} else if (*p == '\'') {
				p++;
				if (put_string(&p, end, out, hex) < 0)
					goto bad;
			} else if (p + 1 < end && p[0] == '0' && p[1] == 'x') {
				if (!hex)
					goto bad;
				const char *h = p + 2;
				while (h < end && ((*h >= '0' && *h <= '9') || (*h >= 'A' && *h <= 'F') ||
						   (*h >= 'a' && *h <= 'f')))
					h++;
				if (tsv_put(out, p + 2, (size_t)(h - p - 2)) < 0)
					goto bad;
				p = h;
			} else {
				const char *q = p;
				while (q < end && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' ||
						   *q == '.' || *q == 'e' || *q == 'E'))
					q++;
				if (q == p || hex)
					goto bad;
				if (tsv_put(out, p, (size_t)(q - p)) < 0)
					goto bad;
				p = q;
			}
			if (p >= end || *p != (i + 1 < t->n ? ',' : ')'))
				goto bad;
			p++;
		}
		if (tsv_put(out, "\n", 1) < 0)
			goto bad;
		n++;
		if (p < end) {
			if (*p != ',')
				goto bad;
			p++;
		}
	}
	*rows += n;
	return 0;
bad:
	out->len = start; /* nothing of this statement stays */
	return -1;
}

/* ------------------------------------------------------------------ what a dump may say */

static int refuse(loader *l, const char *stmt, const char *why)
{
	char kind[120];
	statement_kind(stmt, kind, sizeof kind);
	return drb_error(DRB_ERR_REFUSED,
			 "%s: the dump holds a statement drbackup's dumper never writes (%s, %s): "
			 "refused, nothing after it is run",
			 l->what, kind, why);
}

/* ------------------------------------------------------------------ LOAD DATA LOCAL */

static int infile_init(void **ptr, const char *name, void *ud)
{
	(void)name;
	*ptr = ud;
	return 0;
}

/* The server pulls: serve the converted rows, then convert the next INSERT of the same run. */
static int infile_read(void *ptr, char *dst, unsigned int len)
{
	loader *l = ptr;
	while (l->tsv_pos == l->tsv.len) {
		l->tsv.len = l->tsv_pos = 0;
		int rc = next_statement(&l->r, &l->ahead);
		if (rc < 0) {
			char line[DRB_ERROR_LINE];
			drb_error_line(line, sizeof line);
			snprintf(l->infile_error, sizeof l->infile_error, "%s", line);
			l->failed = true;
			return -1;
		}
		if (rc == 0)
			return 0;
		l->have_ahead = true;
		if (l->ahead.len < l->prefix_len ||
		    memcmp(l->ahead.p, l->prefix, l->prefix_len) != 0)
			return 0; /* another statement: the run ends here */
		if (to_tsv(l->run, l->ahead.p + l->prefix_len, l->ahead.p + l->ahead.len, &l->tsv,
			   &l->run_rows) < 0)
			return 0; /* not ours to convert: it goes as SQL after the run */
		l->have_ahead = false;
		l->st->statements++;
	}
	size_t n = l->tsv.len - l->tsv_pos < len ? l->tsv.len - l->tsv_pos : len;
	memcpy(dst, l->tsv.p + l->tsv_pos, n);
	l->tsv_pos += n;
	return (int)n;
}

static void infile_end(void *ptr)
{
	(void)ptr;
}

static int infile_error(void *ptr, char *msg, unsigned int len)
{
	loader *l = ptr;
	snprintf(msg, len, "%s", l->infile_error[0] ? l->infile_error : "drbackup stopped the stream");
	return 2000;
}

static int load_run(loader *l, const table *t, const char *tname, size_t values_at)
{
	buf q = {0};
	char qt[600];
	int rc;
	drb_db_ident(tname, qt, sizeof qt);
	l->run = t;
	free(l->prefix);
	l->prefix = strndup(l->stmt.p, values_at);
	l->prefix_len = values_at;
	l->run_rows = 0;
	l->tsv.len = l->tsv_pos = 0;
	if (!l->prefix)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	if (to_tsv(t, l->stmt.p + values_at, l->stmt.p + l->stmt.len, &l->tsv, &l->run_rows) < 0)
		return exec(l, l->stmt.p, l->stmt.len); /* not in the form we write: as SQL */
	l->st->statements++;
	rc = buf_put(&q, "LOAD DATA LOCAL INFILE 'drbackup' INTO TABLE ", 45);
	if (rc == 0)
		rc = buf_put(&q, qt, strlen(qt));
	static const char fmt[] = " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY "
				  "'\\\\' LINES TERMINATED BY '\\n' (";
	if (rc == 0)
		rc = buf_put(&q, fmt, sizeof fmt - 1);
	buf set = {0};
	for (size_t i = 0; i < t->n && rc == 0; i++) {
		char qc[600], var[32];
		drb_db_ident(t->names[i], qc, sizeof qc);
		if (i)
			rc = buf_put(&q, ", ", 2);
		if (rc == 0 && t->kinds[i] == COL_TEXT) {
			rc = buf_put(&q, qc, strlen(qc));
			continue;
		}
		snprintf(var, sizeof var, "@c%zu", i);
		if (rc == 0)
			rc = buf_put(&q, var, strlen(var));
		char expr[800];
		snprintf(expr, sizeof expr,
			 t->kinds[i] == COL_HEX ? "%s%s = UNHEX(%s)"
						: "%s%s = CAST(CONV(%s, 16, 10) AS UNSIGNED)",
			 set.len ? ", " : " SET ", qc, var);
		if (rc == 0)
			rc = buf_put(&set, expr, strlen(expr));
	}
	if (rc == 0)
		rc = buf_put(&q, ")", 1);
	if (rc == 0 && set.len)
		rc = buf_put(&q, set.p, set.len);
	free(set.p);
	if (rc < 0) {
		free(q.p);
		return rc;
	}
	l->infile_error[0] = 0;
	if (mysql_real_query(l->m, q.p, q.len) != 0) {
		rc = l->failed ? drb_error(DRB_ERR_IO, "%s: %s", l->what, l->infile_error)
			       : sql_fail(l, q.p);
	} else {
		my_ulonglong got = mysql_affected_rows(l->m);
		if (got != l->run_rows)
			rc = drb_error(DRB_ERR_DATABASE, "%s: table %s took %llu of %llu rows", l->what, qt,
				       (unsigned long long)got, (unsigned long long)l->run_rows);
		else
			rc = no_warnings(l, q.p);
	}
	l->st->rows_streamed += l->run_rows;
	free(q.p);
	return rc;
}

/* ------------------------------------------------------------------ the whole load */

int drb_load_sql(const drb_db_target *t, int fd, const char *what, const char *prelude,
		 const char *db_name, drb_load_stats *st)
{
	drb_db *db = NULL;
	loader l = {.what = what, .st = st, .expect_db = db_name, .chk.db = db_name};
	int rc;
	memset(st, 0, sizeof *st);
	if (!db_name || drb_db_is_system(db_name))
		return drb_error(DRB_ERR_REFUSED, "%s: %s is a system schema: a restore never loads it",
				 what, db_name ? db_name : "(none)");
	l.r.fd = fd;
	l.r.what = what;
	l.r.delim[0] = ';';
	l.r.delim_len = 1;
	if (!(l.r.in = malloc(READ_BUF)))
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	if ((rc = drb_db_connect(t, &db)) < 0)
		goto out;
	l.m = drb_db_handle(db);
	/* one statement per query: a statement the checker passed cannot carry another */
	if (l.m->client_flag & CLIENT_MULTI_STATEMENTS) {
		rc = drb_error(DRB_ERR_REFUSED, "%s: the connection allows several statements per "
						"query",
			       what);
		goto out;
	}
	/* LOAD DATA LOCAL needs the client side allowed too; the server may still refuse it */
	unsigned int on = 1;
	mysql_optionsv(l.m, MYSQL_OPT_LOCAL_INFILE, &on);
	mysql_set_local_infile_handler(l.m, infile_init, infile_read, infile_end, infile_error, &l);
	char v[16] = "";
	l.local_infile = drb_db_value(db, "SELECT @@local_infile", v, sizeof v) == 0 &&
			 strcmp(v, "1") == 0 && !getenv("DRBACKUP_NO_LOAD_DATA");
	drb_error_clear();
	if (prelude && (rc = exec(&l, prelude, strlen(prelude))) < 0)
		goto out;
	for (;;) {
		buf *s = &l.stmt;
		if (l.have_ahead) {
			buf tmp = l.stmt;
			l.stmt = l.ahead;
			l.ahead = tmp;
			l.have_ahead = false;
		} else {
			rc = next_statement(&l.r, s);
			if (rc < 0)
				goto out;
			if (rc == 0)
				break;
		}
		char tname[256];
		const char *cols;
		size_t cols_len, values_at;
		l.chk.no_backslash = l.r.literal_backslash;
		if ((rc = drb_sqlcheck_dump(&l.chk, s->p, s->len)) < 0) {
			rc = rc == DRB_ERR_REFUSED ? refuse(&l, s->p, l.chk.why) : rc;
			goto out;
		}
		if (l.chk.rewritten) {
			/* a definer made the restoring account, an event disabled */
			if ((rc = exec(&l, l.chk.rewritten, l.chk.rewritten_len)) < 0)
				goto out;
			continue;
		}
		if (parse_insert(s->p, s->len, tname, sizeof tname, &cols, &cols_len, &values_at)) {
			const table *tb = l.local_infile ? table_for(&l, tname, cols, cols_len) : NULL;
			if (tb && tb->loadable && !l.r.literal_backslash) {
				if ((rc = load_run(&l, tb, tname, values_at)) < 0)
					goto out;
				continue;
			}
			st->rows_sql++;
		}
		if ((rc = exec(&l, s->p, s->len)) < 0)
			goto out;
		note_use(&l, s->p, s->len);
	}
	rc = 0;
out:
	for (size_t i = 0; i < l.n_tables; i++) {
		for (size_t k = 0; k < l.tables[i].n; k++)
			free(l.tables[i].names[k]);
		free(l.tables[i].names);
		free(l.tables[i].kinds);
		free(l.tables[i].key);
	}
	free(l.tables);
	drb_sqlcheck_free(&l.chk);
	free(l.prefix);
	free(l.stmt.p);
	free(l.ahead.p);
	free(l.tsv.p);
	free(l.r.in);
	drb_db_close(db);
	return rc;
}
