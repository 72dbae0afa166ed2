#include "config.h"
#include "restore/sqlcheck.h"
#include "common/db.h"
#include "common/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ tokens, as the server reads
 * them */

typedef struct tok {
	const char *s, *e; /* the token's bytes */
	/* 'w' word, 'i' identifier, 's' string, 'n' number, 'v' @variable, 'c' executable comment,
	 * 0 the end, '!' text the server would read differently from us, or the punctuation */
	char kind;
	char word[260]; /* identifiers and strings unquoted; cut at 259 bytes */
	bool cut;       /* word holds only the start of a longer token */
} tok;

typedef struct lexer {
	const char *p, *end;
	const drb_sqlcheck *c;
	const char *err;
} lexer;

static bool word_byte(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '$' || ch >= 0x80;
}

static bool space_byte(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static void keep(tok *t, size_t *n, char ch)
{
	if (*n + 1 < sizeof t->word)
		t->word[(*n)++] = ch;
	else
		t->cut = true;
}

static bool lex_error(lexer *x, tok *t, const char *why)
{
	x->err = why;
	t->kind = '!';
	t->word[0] = 0;
	return false;
}

/* The next token into t; false at the end or on an error (t->kind 0 or '!'). */
static bool next_tok(lexer *x, tok *t)
{
	const char *p = x->p, *end = x->end;
	size_t n = 0;
	t->cut = false;
	for (;;) {
		while (p < end && space_byte((unsigned char)*p))
			p++;
		if (p < end && *p == '#') {
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		if (end - p >= 2 && p[0] == '-' && p[1] == '-' &&
		    (end - p == 2 || (unsigned char)p[2] <= ' ')) {
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
			bool exec = (end - p >= 3 && p[2] == '!') ||
			            (end - p >= 4 && p[2] == 'M' && p[3] == '!');
			const char *q = p + 2;
			while (q + 1 < end && !(q[0] == '*' && q[1] == '/'))
				q++;
			if (q + 1 >= end)
				return lex_error(x, t, "an unterminated comment");
			if (exec) {
				/* MariaDB runs it or skips it by version: refused unless the caller
				 * knows this exact text */
				t->kind = 'c';
				t->s = p;
				t->e = x->p = q + 2;
				t->word[0] = 0;
				return true;
			}
			p = q + 2;
			continue;
		}
		break;
	}
	t->s = p;
	if (p >= end) {
		t->kind = 0;
		t->e = x->p = p;
		t->word[0] = 0;
		return false;
	}
	unsigned char ch = (unsigned char)*p;
	if (ch == 0)
		return lex_error(x, t, "a NUL byte");
	if (ch == '\'' || ch == '"' || ch == '`') {
		bool ident = ch == '`' || (ch == '"' && x->c->ansi_quotes);
		bool esc = !ident && !x->c->no_backslash;
		t->kind = ident ? 'i' : 's';
		for (p++;; p++) {
			if (p >= end)
				return lex_error(x, t, "an unterminated string");
			if (*p == '\\' && esc) {
				if (p + 1 >= end)
					return lex_error(x, t, "an unterminated string");
				keep(t, &n, p[1]);
				p++;
				continue;
			}
			if (*p == (char)ch) {
				if (p + 1 < end && p[1] == (char)ch) {
					keep(t, &n, *p);
					p++;
					continue;
				}
				break;
			}
			if (*p == 0)
				return lex_error(x, t, "a NUL byte");
			keep(t, &n, *p);
		}
		p++;
	} else if (ch == '@') {
		t->kind = 'v';
		keep(t, &n, *p++);
		if (p < end && *p == '@')
			keep(t, &n, *p++);
		while (p < end && word_byte((unsigned char)*p))
			keep(t, &n, *p++);
		if (n == 1)
			t->kind = '@'; /* `user`@`host` */
	} else if (word_byte(ch)) {
		bool digits = true;
		const char *q = p;
		while (q < end && word_byte((unsigned char)*q)) {
			digits &= *q >= '0' && *q <= '9';
			q++;
		}
		bool hex = q - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
		for (const char *h = p + 2; hex && h < q; h++)
			hex = (*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f') ||
			      (*h >= 'A' && *h <= 'F');
		if (digits || hex) {
			t->kind = 'n';
			if (digits && q < end && *q == '.')
				for (q++; q < end && *q >= '0' && *q <= '9'; q++)
					;
			if (digits && q < end && (*q == 'e' || *q == 'E')) {
				const char *r = q + 1;
				if (r < end && (*r == '+' || *r == '-'))
					r++;
				if (r < end && *r >= '0' && *r <= '9') {
					for (q = r; q < end && *q >= '0' && *q <= '9'; q++)
						;
				}
			}
			if (q < end && word_byte((unsigned char)*q))
				return lex_error(x, t, "a number run into a word");
		} else {
			t->kind = 'w';
		}
		for (; p < q; p++)
			keep(t, &n, *p);
	} else {
		t->kind = (char)ch;
		keep(t, &n, (char)ch);
		p++;
	}
	t->word[n] = 0;
	t->e = x->p = p;
	return true;
}

static bool peek_tok(const lexer *x, tok *t)
{
	lexer y = *x;
	return next_tok(&y, t);
}

static bool is(const tok *t, const char *w)
{
	return t->kind == 'w' && strcasecmp(t->word, w) == 0;
}

static bool is_name(const tok *t)
{
	return (t->kind == 'w' || t->kind == 'i') && !t->cut;
}

static bool in_list(const char *w, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (strcasecmp(w, list[i]) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ verdicts and rewrites */

static int refuse(drb_sqlcheck *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(drb_sqlcheck *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
	return DRB_ERR_REFUSED;
}

static int lexed_wrong(drb_sqlcheck *c, const lexer *x, const tok *t)
{
	if (t->kind == '!')
		return refuse(c, "%s", x->err ? x->err : "text that does not tokenize");
	if (t->kind == 'c')
		return refuse(c, "an executable comment");
	if (t->kind == 0)
		return refuse(c, "a statement cut short");
	if (t->kind == ';')
		return refuse(c, "more than one statement");
	return refuse(c, "an unexpected '%.64s'", t->kind == 's' ? "string" : t->word);
}

typedef struct edit {
	const char *from, *to; /* the span replaced */
	const char *with;
} edit;

typedef struct edits {
	edit v[4];
	int n;
} edits;

static void add_edit(edits *ed, const char *from, const char *to, const char *with)
{
	if (ed->n < 4)
		ed->v[ed->n++] = (edit){from, to, with};
}

static int apply_edits(drb_sqlcheck *c, const char *s, size_t len, const edits *ed)
{
	if (ed->n == 0)
		return 0;
	size_t cap = len + 1;
	for (int i = 0; i < ed->n; i++)
		cap += strlen(ed->v[i].with) + 2;
	char *out = malloc(cap), *o = out;
	if (!out)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	const char *p = s;
	for (int i = 0; i < ed->n; i++) {
		memcpy(o, p, (size_t)(ed->v[i].from - p));
		o += ed->v[i].from - p;
		size_t w = strlen(ed->v[i].with);
		memcpy(o, ed->v[i].with, w);
		o += w;
		p = ed->v[i].to;
	}
	memcpy(o, p, (size_t)(s + len - p));
	o += s + len - p;
	*o = 0;
	c->rewritten = out;
	c->rewritten_len = (size_t)(o - out);
	return 0;
}

static void reset(drb_sqlcheck *c)
{
	free(c->rewritten);
	c->rewritten = NULL;
	c->rewritten_len = 0;
	c->why[0] = 0;
}

void drb_sqlcheck_free(drb_sqlcheck *c)
{
	reset(c);
}

static int expect_end(drb_sqlcheck *c, lexer *x)
{
	tok t;
	if (next_tok(x, &t) || t.kind == '!')
		return lexed_wrong(c, x, &t);
	return 0;
}

/* A database named in a statement: the one being restored, never a system schema. */
static int database_ok(drb_sqlcheck *c, const char *name)
{
	if (drb_db_is_system(name))
		return refuse(c, "the system schema %.64s", name);
	if (c->db && strcmp(name, c->db) != 0)
		return refuse(c, "another database");
	return 0;
}

/* [db.]name at t (already read); leaves x after it. */
static int object_name(drb_sqlcheck *c, lexer *x, tok *t)
{
	if (!is_name(t))
		return lexed_wrong(c, x, t);
	tok dot;
	if (peek_tok(x, &dot) && dot.kind == '.') {
		int rc = database_ok(c, t->word);
		if (rc < 0)
			return rc;
		next_tok(x, &dot);
		if (!next_tok(x, t) || !is_name(t))
			return lexed_wrong(c, x, t);
	}
	return 0;
}

/* ------------------------------------------------------------------ session settings */

bool drb_sqlcheck_safe_charset(const char *name)
{
	static const char *const safe[] = {
	    "utf8mb4", "utf8mb3", "utf8",   "latin1",   "latin2", "latin5", "latin7", "ascii",
	    "binary",  "cp1250",  "cp1251", "cp1256",   "cp1257", "cp850",  "cp852",  "cp866",
	    "dec8",    "greek",   "hebrew", "hp8",      "koi8r",  "koi8u",  "swe7",   "armscii8",
	    "geostd8", "keybcs2", "macce",  "macroman", "tis620", NULL};
	for (int i = 0; safe[i]; i++)
		if (strcasecmp(name, safe[i]) == 0)
			return true;
	return false;
}

/* utf8mb4_general_ci: a collation of a safe character set. */
static bool safe_collation(const char *name)
{
	char cs[64];
	const char *u = strchr(name, '_');
	if (!u || (size_t)(u - name) >= sizeof cs)
		return drb_sqlcheck_safe_charset(name);
	snprintf(cs, sizeof cs, "%.*s", (int)(u - name), name);
	return drb_sqlcheck_safe_charset(cs);
}

/* sql_mode flags a restore may run under; the compound modes (ORACLE, MSSQL, ...) change the
 * grammar itself and are refused. */
static const char *const mode_flags[] = {"REAL_AS_FLOAT",
                                         "PIPES_AS_CONCAT",
                                         "ANSI_QUOTES",
                                         "IGNORE_SPACE",
                                         "IGNORE_BAD_TABLE_OPTIONS",
                                         "ONLY_FULL_GROUP_BY",
                                         "NO_UNSIGNED_SUBTRACTION",
                                         "NO_DIR_IN_CREATE",
                                         "NO_KEY_OPTIONS",
                                         "NO_TABLE_OPTIONS",
                                         "NO_FIELD_OPTIONS",
                                         "ANSI",
                                         "NO_AUTO_VALUE_ON_ZERO",
                                         "NO_BACKSLASH_ESCAPES",
                                         "STRICT_TRANS_TABLES",
                                         "STRICT_ALL_TABLES",
                                         "NO_ZERO_IN_DATE",
                                         "NO_ZERO_DATE",
                                         "ALLOW_INVALID_DATES",
                                         "ERROR_FOR_DIVISION_BY_ZERO",
                                         "TRADITIONAL",
                                         "NO_AUTO_CREATE_USER",
                                         "HIGH_NOT_PRECEDENCE",
                                         "NO_ENGINE_SUBSTITUTION",
                                         "PAD_CHAR_TO_FULL_LENGTH",
                                         "EMPTY_STRING_IS_NULL",
                                         "SIMULTANEOUS_ASSIGNMENT",
                                         "TIME_ROUND_FRACTIONAL",
                                         NULL};

static int sql_mode_text(drb_sqlcheck *c, const tok *v)
{
	if (v->kind != 's' || v->e - v->s < 2)
		return refuse(c, "an sql_mode that is not a plain list");
	bool ansi = false, nbe = false;
	char flag[72];
	for (const char *p = v->s + 1, *end = v->e - 1; p < end;) {
		size_t k = 0;
		while (p + k < end && p[k] != ',')
			k++;
		if (k >= sizeof flag)
			return refuse(c, "an sql_mode that is not a plain list");
		for (size_t i = 0; i < k; i++) {
			char ch = p[i];
			if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_'))
				return refuse(c, "an sql_mode that is not a plain list");
			flag[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
		}
		flag[k] = 0;
		if (flag[0] && !in_list(flag, mode_flags))
			return refuse(c, "sql_mode %.64s", flag);
		ansi |= strcmp(flag, "ANSI_QUOTES") == 0 || strcmp(flag, "ANSI") == 0;
		nbe |= strcmp(flag, "NO_BACKSLASH_ESCAPES") == 0;
		p += k + (p + k < end);
	}
	c->ansi_quotes = ansi;
	c->no_backslash = nbe;
	return 0;
}

/* mariadb-binlog writes the mode as a number (MariaDB's bits) */
#define MODE_ANSI_QUOTES (1ull << 2)
#define MODE_GRAMMAR                                                                               \
	((1ull << 8) | (1ull << 9) | (1ull << 10) | (1ull << 11) | (1ull << 12) | (1ull << 16) |   \
	 (1ull << 17)) /* POSTGRESQL ORACLE MSSQL DB2 MAXDB MYSQL323/40 */
#define MODE_ANSI                 (1ull << 18)
#define MODE_NO_BACKSLASH_ESCAPES (1ull << 20)

static int sql_mode_number(drb_sqlcheck *c, const tok *v)
{
	if (v->kind != 'n' || v->cut || strchr(v->word, '.') || strchr(v->word, 'X') ||
	    strchr(v->word, 'x'))
		return refuse(c, "an sql_mode that is not a number");
	unsigned long long m = strtoull(v->word, NULL, 10);
	if (m & MODE_GRAMMAR)
		return refuse(c, "an sql_mode that changes the grammar");
	c->ansi_quotes = (m & (MODE_ANSI_QUOTES | MODE_ANSI)) != 0;
	c->no_backslash = (m & MODE_NO_BACKSLASH_ESCAPES) != 0;
	return 0;
}

/* What one assignment may set: 'n' a number (or ON/OFF), 's' a string, 'c' a character set,
 * 'l' a collation (name, or number in a binlog), 'm' sql_mode, 'd' a collation or DEFAULT. */
typedef struct setting {
	const char *name;
	char value;
} setting;

static const setting dump_settings[] = {{"SQL_MODE", 'm'},
                                        {"TIME_ZONE", 's'},
                                        {"UNIQUE_CHECKS", 'n'},
                                        {"FOREIGN_KEY_CHECKS", 'n'},
                                        {"SQL_NOTES", 'n'},
                                        {"AUTOCOMMIT", 'n'},
                                        {"CHARACTER_SET_CLIENT", 'c'},
                                        {"COLLATION_CONNECTION", 'l'},
                                        {NULL, 0}};

static const setting binlog_settings[] = {
    {"TIMESTAMP", 'n'},
    {"INSERT_ID", 'n'},
    {"LAST_INSERT_ID", 'n'},
    {"PSEUDO_THREAD_ID", 'n'},
    {"FOREIGN_KEY_CHECKS", 'n'},
    {"SQL_AUTO_IS_NULL", 'n'},
    {"UNIQUE_CHECKS", 'n'},
    {"AUTOCOMMIT", 'n'},
    {"CHECK_CONSTRAINT_CHECKS", 'n'},
    {"SQL_IF_EXISTS", 'n'},
    {"EXPLICIT_DEFAULTS_FOR_TIMESTAMP", 'n'},
    {"SYSTEM_VERSIONING_INSERT_HISTORY", 'n'},
    {"SQL_MODE", 'M'},
    {"AUTO_INCREMENT_INCREMENT", 'n'},
    {"AUTO_INCREMENT_OFFSET", 'n'},
    {"CHARACTER_SET_CLIENT", 'c'},
    {"COLLATION_CONNECTION", 'l'},
    {"COLLATION_SERVER", 'l'},
    {"COLLATION_DATABASE", 'd'},
    {"LC_TIME_NAMES", 'n'},
    {"TIME_ZONE", 's'},
    {"SKIP_PARALLEL_REPLICATION", 'n'},
    {"GTID_DOMAIN_ID", 'n'},
    {"SERVER_ID", 'n'},
    {"GTID_SEQ_NO", 'n'},
    {NULL, 0},
};

static int set_value(drb_sqlcheck *c, lexer *x, char kind)
{
	tok v;
	if (!next_tok(x, &v))
		return lexed_wrong(c, x, &v);
	switch (kind) {
	case 'm':
		return sql_mode_text(c, &v);
	case 'M':
		return sql_mode_number(c, &v);
	case 's':
		return v.kind == 's' ? 0 : lexed_wrong(c, x, &v);
	case 'c':
		return (v.kind == 'w' || v.kind == 's') && drb_sqlcheck_safe_charset(v.word)
		           ? 0
		           : refuse(c, "a character set whose bytes hide quotes");
	case 'd':
		if (is(&v, "DEFAULT"))
			return 0;
		/* fall through */
	case 'l':
		if (v.kind == 'n' && !strchr(v.word, '.'))
			return 0;
		return (v.kind == 'w' || v.kind == 's') && safe_collation(v.word)
		           ? 0
		           : refuse(c, "a collation whose bytes hide quotes");
	default:
		if (v.kind == 'n' || is(&v, "ON") || is(&v, "OFF"))
			return 0;
		return lexed_wrong(c, x, &v);
	}
}

/* SET [SESSION] a = v[, b = v]... with every name on the list; binlog: the @@session. forms. */
static int check_set(drb_sqlcheck *c, lexer *x, const setting *allowed, bool binlog)
{
	tok t;
	if (!next_tok(x, &t))
		return lexed_wrong(c, x, &t);
	if (!binlog && is(&t, "NAMES")) {
		tok cs;
		if (!next_tok(x, &cs) || (cs.kind != 'w' && cs.kind != 's') ||
		    !drb_sqlcheck_safe_charset(cs.word))
			return refuse(c, "a character set whose bytes hide quotes");
		return expect_end(c, x);
	}
	if (!binlog && is(&t, "SESSION") && !next_tok(x, &t))
		return lexed_wrong(c, x, &t);
	for (;;) {
		char name[260];
		if (binlog && t.kind == 'v' &&
		    (strcasecmp(t.word, "@@SESSION") == 0 || strcasecmp(t.word, "@@LOCAL") == 0)) {
			tok dot;
			if (!next_tok(x, &dot) || dot.kind != '.' || !next_tok(x, &t) ||
			    t.kind != 'w')
				return lexed_wrong(c, x, &t);
			snprintf(name, sizeof name, "%s", t.word);
		} else if (t.kind == 'w') {
			snprintf(name, sizeof name, "%s", t.word);
		} else if (t.kind == 'v' && t.word[1] != '@') {
			return refuse(c, "a user variable");
		} else {
			return refuse(c, "it sets more than this session");
		}
		const setting *s = allowed;
		while (s->name && strcasecmp(s->name, name) != 0)
			s++;
		if (!s->name)
			return refuse(c, "a setting a restore does not make (%.64s)", name);
		tok eq;
		if (!next_tok(x, &eq) || eq.kind != '=')
			return lexed_wrong(c, x, &eq);
		int rc = set_value(c, x, s->value);
		if (rc < 0)
			return rc;
		if (!next_tok(x, &t))
			return t.kind == '!' ? lexed_wrong(c, x, &t) : 0;
		if (t.kind != ',')
			return lexed_wrong(c, x, &t);
		if (!next_tok(x, &t))
			return lexed_wrong(c, x, &t);
	}
}

/* ------------------------------------------------------------------ bodies of views, triggers,
 * routines */

enum { BODY_PLAIN, BODY_TABLE, BODY_COMPOUND };

/* Server-level words no restored object may hold: accounts, plugins, files, replication, dynamic
 * SQL that could build any of them. */
static const char *const deny_words[] = {
    "GRANT",   "REVOKE",       "INSTALL",  "UNINSTALL",   "SHUTDOWN", "KILL",      "FLUSH",
    "PURGE",   "OUTFILE",      "DUMPFILE", "INFILE",      "LOAD",     "LOAD_FILE", "SONAME",
    "PREPARE", "EXECUTE",      "BINLOG",   "MASTER",      "SLAVE",    "REPLICA",   "IDENTIFIED",
    "PERSIST", "PERSIST_ONLY", "GLOBAL",   "SQL_LOG_BIN", "RESET",    NULL};
/* after CREATE, ALTER, DROP or RENAME */
static const char *const deny_objects[] = {"USER",   "ROLE",       "SERVER",  "DATABASE",
                                           "SCHEMA", "TABLESPACE", "LOGFILE", NULL};
/* the name that follows is a table (or routine): its database is checked */
static const char *const table_words[] = {
    "FROM", "JOIN",     "STRAIGHT_JOIN", "INTO",      "UPDATE",   "TABLE", "REFERENCES",
    "CALL", "TRUNCATE", "DELETE",        "PROCEDURE", "FUNCTION", "EVENT", "TRIGGER",
    "VIEW", "SEQUENCE", "TABLES",        "REPLACE",   NULL};
/* words between such a keyword and the name */
static const char *const table_noise[] = {
    "IF",      "NOT",           "EXISTS",    "IGNORE", "LOW_PRIORITY", "QUICK",
    "DELAYED", "HIGH_PRIORITY", "TEMPORARY", "ONLY",   "LATERAL",      "OR",
    NULL};
static const char *const from_end[] = {
    "WHERE", "GROUP",  "HAVING",    "ORDER", "LIMIT",  "UNION",  "EXCEPT", "INTERSECT",
    "SET",   "WINDOW", "RETURNING", "INTO",  "VALUES", "SELECT", "FOR",    NULL};
static const char *const engines[] = {"INNODB",   "ARIA",    "MYISAM", "MEMORY",
                                      "HEAP",     "ARCHIVE", "CSV",    "BLACKHOLE",
                                      "SEQUENCE", "ROCKSDB", NULL};

#define MAX_DEPTH 64

static int scan_body(drb_sqlcheck *c, lexer *x, int mode, bool stmt_start)
{
	tok t, prev = {.kind = 0};
	int depth = 0, blocks = 0;
	bool from[MAX_DEPTH + 1] = {false}, table_pos = false;
	while (next_tok(x, &t)) {
		bool after_dot = prev.kind == '.';
		bool start = stmt_start;
		stmt_start = false;
		switch (t.kind) {
		case 'c':
		case '!':
			return lexed_wrong(c, x, &t);
		case ';':
			if (mode != BODY_COMPOUND || blocks == 0)
				return refuse(c, "more than one statement");
			stmt_start = true;
			table_pos = false;
			break;
		case '(':
			if (++depth > MAX_DEPTH)
				return refuse(c, "parentheses nested too deep");
			from[depth] = false;
			table_pos = false;
			break;
		case ')':
			if (depth == 0)
				return refuse(c, "an unbalanced parenthesis");
			from[depth--] = false;
			break;
		case ',':
			table_pos = from[depth];
			break;
		case ':':
			stmt_start = true;
			break;
		case 'v':
			if (strncasecmp(t.word, "@@GLOBAL", 8) == 0 ||
			    strncasecmp(t.word, "@@PERSIST", 9) == 0)
				return refuse(c, "a global variable");
			break;
		case 'w':
			if (!after_dot && in_list(t.word, deny_words))
				return refuse(c, "a server-level statement (%.64s)", t.word);
			if (!after_dot &&
			    (is(&prev, "CREATE") || is(&prev, "ALTER") || is(&prev, "DROP") ||
			     is(&prev, "RENAME")) &&
			    in_list(t.word, deny_objects))
				return refuse(c, "a statement about the server (%.64s %.64s)",
				              prev.word, t.word);
			if (!after_dot && mode != BODY_TABLE && is(&prev, "SET") &&
			    (is(&t, "PASSWORD") || is(&t, "ROLE") || is(&t, "DEFAULT")))
				return refuse(c, "a statement about accounts (SET %.64s)", t.word);
			if (mode == BODY_TABLE && (is(&t, "DIRECTORY") || is(&t, "CONNECTION")))
				return refuse(
				    c, "a table that reaches outside its database (%.64s)", t.word);
			if (mode == BODY_TABLE && is(&t, "ENGINE")) {
				tok e;
				if (peek_tok(x, &e) && e.kind == '=')
					next_tok(x, &e);
				if (!next_tok(x, &e) || !is_name(&e) || !in_list(e.word, engines))
					return refuse(c, "a storage engine a dump never uses");
				break;
			}
			if (after_dot)
				break;
			if (mode == BODY_COMPOUND) {
				tok nx;
				bool have = peek_tok(x, &nx);
				if (is(&t, "BEGIN") &&
				    !(have && (nx.kind == ';' || is(&nx, "WORK")))) {
					blocks++;
					stmt_start = true;
				} else if (is(&t, "CASE") || is(&t, "LOOP") || is(&t, "WHILE") ||
				           (is(&t, "REPEAT") && !(have && nx.kind == '(')) ||
				           (is(&t, "IF") && start)) {
					blocks++;
					stmt_start = is(&t, "LOOP") || is(&t, "REPEAT");
				} else if (is(&t, "END")) {
					if (--blocks < 0)
						return refuse(c, "an END without its block");
					if (have &&
					    (is(&nx, "IF") || is(&nx, "CASE") || is(&nx, "LOOP") ||
					     is(&nx, "WHILE") || is(&nx, "REPEAT")))
						next_tok(x, &nx);
				} else if (is(&t, "THEN") || is(&t, "ELSE") || is(&t, "DO")) {
					stmt_start = true;
				}
			}
			if (in_list(t.word, from_end))
				from[depth] = false;
			if (in_list(t.word, table_words)) {
				table_pos = true;
				if (is(&t, "FROM") || is(&t, "UPDATE") || is(&t, "JOIN"))
					from[depth] = true;
				break;
			}
			if (table_pos && in_list(t.word, table_noise))
				break;
			__attribute__((fallthrough)); /* a name */
		case 'i': {
			if (after_dot)
				break;
			tok d1, n2, d2;
			lexer y = *x;
			bool two = next_tok(&y, &d1) && d1.kind == '.' && next_tok(&y, &n2) &&
			           is_name(&n2);
			bool three = two && next_tok(&y, &d2) && d2.kind == '.';
			tok call = {.kind = 0};
			lexer z = *x;
			if (two) {
				next_tok(&z, &call);
				next_tok(&z, &call);
				next_tok(&z, &call);
			}
			bool function = two && !three && call.kind == '(';
			if (two && drb_db_is_system(t.word))
				return refuse(c, "the system schema %.64s", t.word);
			if ((three || (two && (table_pos || function))) && t.cut)
				return refuse(c, "a name too long to check");
			if (three || (two && (table_pos || function))) {
				int rc = database_ok(c, t.word);
				if (rc < 0)
					return rc;
			}
			table_pos = false;
			break;
		}
		default:
			break;
		}
		prev = t;
	}
	if (t.kind == '!')
		return lexed_wrong(c, x, &t);
	if (depth != 0)
		return refuse(c, "an unbalanced parenthesis");
	if (mode == BODY_COMPOUND && blocks != 0)
		return refuse(c, "a block without its END");
	return 0;
}

/* ------------------------------------------------------------------ CREATE */

/* DEFINER = user: replaced by the restoring account, so no object runs as anyone else. */
static int definer(drb_sqlcheck *c, lexer *x, const tok *kw, edits *ed)
{
	tok t;
	if (!next_tok(x, &t) || t.kind != '=' || !next_tok(x, &t))
		return lexed_wrong(c, x, &t);
	const char *end = t.e;
	if (is(&t, "CURRENT_USER")) {
		tok p;
		if (peek_tok(x, &p) && p.kind == '(') {
			next_tok(x, &p);
			if (!next_tok(x, &p) || p.kind != ')')
				return lexed_wrong(c, x, &p);
			end = p.e;
		}
	} else if (t.kind == 'i' || t.kind == 's' || t.kind == 'w') {
		tok at;
		if (peek_tok(x, &at) && at.kind == '@') {
			next_tok(x, &at);
			if (!next_tok(x, &t) || (t.kind != 'i' && t.kind != 's' && t.kind != 'w'))
				return lexed_wrong(c, x, &t);
			end = t.e;
		} else if (peek_tok(x, &at) && at.kind == 'v') {
			next_tok(x, &at); /* 'user'@localhost */
			end = at.e;
		}
	} else {
		return refuse(c, "a definer that is not an account");
	}
	/* a space before what followed, if nothing separated it: `u`@`h`EVENT */
	bool glued = end < x->end && !space_byte((unsigned char)*end);
	add_edit(ed, kw->s, end, glued ? "DEFINER=CURRENT_USER " : "DEFINER=CURRENT_USER");
	return 0;
}

/* An event's header up to DO: ENABLE becomes DISABLE, and one without a status gets DISABLE,
 * so nothing restored runs on the scheduler until someone enables it. */
static int event_header(drb_sqlcheck *c, lexer *x, edits *ed, bool alter)
{
	tok t;
	int depth = 0;
	const char *comment = NULL;
	bool status = false;
	while (next_tok(x, &t)) {
		if (t.kind == 'c' || t.kind == ';')
			return lexed_wrong(c, x, &t);
		if (t.kind == '(')
			depth++;
		else if (t.kind == ')')
			depth--;
		else if (depth == 0 && is(&t, "ENABLE")) {
			bool glued = t.e < x->end && !space_byte((unsigned char)*t.e);
			add_edit(ed, t.s, t.e, glued ? "DISABLE " : "DISABLE");
			status = true;
		} else if (depth == 0 && is(&t, "DISABLE")) {
			status = true;
		} else if (depth == 0 && is(&t, "COMMENT") && !comment) {
			comment = t.s;
		} else if (depth == 0 && is(&t, "DO")) {
			if (!status && !alter)
				add_edit(ed, comment ? comment : t.s, comment ? comment : t.s,
				         "DISABLE ");
			return 1;
		}
	}
	if (t.kind == '!')
		return lexed_wrong(c, x, &t);
	if (!alter)
		return refuse(c, "an event without a body");
	return 0; /* ALTER EVENT without DO */
}

static bool words_only_comment(const tok *t)
{
	const char *p = t->s + 3, *end = t->e - 2;
	if (t->s[2] != '!')
		return false;
	for (; p < end; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == ' ' || *p == '=' ||
		      *p == '\t' || *p == '\n'))
			return false;
	return true;
}

static int routine_params(drb_sqlcheck *c, lexer *x)
{
	tok t;
	if (!peek_tok(x, &t) || t.kind != '(')
		return refuse(c, "a function from a shared library");
	return 0;
}

/* The object kind and the rest of a CREATE, after its modifiers. */
static int create_object(drb_sqlcheck *c, lexer *x, tok *t, edits *ed, bool binlog)
{
	int rc;
	if (is(t, "DATABASE") || is(t, "SCHEMA")) {
		if (!next_tok(x, t))
			return lexed_wrong(c, x, t);
		if (t->kind == 'c') {
			/* the dumper's own CREATE DATABASE /+!32312 IF NOT EXISTS+/ */
			if ((size_t)(t->e - t->s) != 24 ||
			    memcmp(t->s, "/*!32312 IF NOT EXISTS*/", 24))
				return lexed_wrong(c, x, t);
			next_tok(x, t);
		} else if (is(t, "IF")) {
			if (!next_tok(x, t) || !is(t, "NOT") || !next_tok(x, t) ||
			    !is(t, "EXISTS") || !next_tok(x, t))
				return lexed_wrong(c, x, t);
		}
		if (!is_name(t))
			return lexed_wrong(c, x, t);
		if ((rc = database_ok(c, t->word)) < 0)
			return rc;
		/* SHOW CREATE DATABASE's /+!40100 DEFAULT CHARACTER SET x COLLATE y +/: words
		 * only, so it reads the same whether it runs or not */
		while (next_tok(x, t))
			if (!(t->kind == 'c' && words_only_comment(t)) && t->kind != 'w' &&
			    t->kind != '=' && t->kind != 's' && t->kind != 'n')
				return lexed_wrong(c, x, t);
		return t->kind == '!' ? lexed_wrong(c, x, t) : 0;
	}
	bool table = is(t, "TABLE") || is(t, "SEQUENCE"), view = is(t, "VIEW"),
	     trigger = is(t, "TRIGGER"), proc = is(t, "PROCEDURE"), func = is(t, "FUNCTION"),
	     event = is(t, "EVENT"), index = binlog && is(t, "INDEX");
	if (!table && !view && !trigger && !proc && !func && !event && !index)
		return refuse(c, "not an object a %.64s holds (%.64s)", binlog ? "replay" : "dump",
		              t->kind == 'w' ? t->word : "?");
	if (!next_tok(x, t))
		return lexed_wrong(c, x, t);
	if (is(t, "IF")) {
		if (!next_tok(x, t) || !is(t, "NOT") || !next_tok(x, t) || !is(t, "EXISTS") ||
		    !next_tok(x, t))
			return lexed_wrong(c, x, t);
	}
	if ((rc = object_name(c, x, t)) < 0)
		return rc;
	if (index)
		return scan_body(c, x, BODY_TABLE, false);
	if (table)
		return scan_body(c, x, BODY_TABLE, false);
	if (view)
		return scan_body(c, x, BODY_PLAIN, false);
	if (proc || func) {
		if ((rc = routine_params(c, x)) < 0)
			return rc;
		return scan_body(c, x, BODY_COMPOUND, false);
	}
	if (trigger) {
		/* BEFORE|AFTER INSERT|UPDATE|DELETE ON table FOR EACH ROW [FOLLOWS|PRECEDES t] */
		if (!next_tok(x, t) || !(is(t, "BEFORE") || is(t, "AFTER")) || !next_tok(x, t) ||
		    !(is(t, "INSERT") || is(t, "UPDATE") || is(t, "DELETE")))
			return lexed_wrong(c, x, t);
		tok nx;
		if (peek_tok(x, &nx) && is(&nx, "OR")) /* INSERT OR UPDATE ... (10.x) */
			return refuse(c, "a trigger form a dump does not write");
		if (!next_tok(x, t) || !is(t, "ON") || !next_tok(x, t))
			return lexed_wrong(c, x, t);
		if ((rc = object_name(c, x, t)) < 0)
			return rc;
		if (!next_tok(x, t) || !is(t, "FOR") || !next_tok(x, t) || !is(t, "EACH") ||
		    !next_tok(x, t) || !is(t, "ROW"))
			return lexed_wrong(c, x, t);
		if (peek_tok(x, &nx) && (is(&nx, "FOLLOWS") || is(&nx, "PRECEDES"))) {
			next_tok(x, &nx);
			if (!next_tok(x, &nx) || !is_name(&nx))
				return lexed_wrong(c, x, &nx);
		}
		return scan_body(c, x, BODY_COMPOUND, true);
	}
	/* EVENT */
	if ((rc = event_header(c, x, ed, false)) < 0)
		return rc;
	return scan_body(c, x, BODY_COMPOUND, true);
}

static int check_create(drb_sqlcheck *c, lexer *x, bool binlog, edits *ed)
{
	tok t;
	int rc;
	while (next_tok(x, &t)) {
		if (is(&t, "OR")) {
			if (!next_tok(x, &t) || !is(&t, "REPLACE"))
				return lexed_wrong(c, x, &t);
		} else if (is(&t, "ALGORITHM")) {
			if (!next_tok(x, &t) || t.kind != '=' || !next_tok(x, &t) || t.kind != 'w')
				return lexed_wrong(c, x, &t);
		} else if (is(&t, "DEFINER")) {
			if ((rc = definer(c, x, &t, ed)) < 0)
				return rc;
		} else if (is(&t, "SQL")) {
			if (!next_tok(x, &t) || !is(&t, "SECURITY") || !next_tok(x, &t) ||
			    t.kind != 'w')
				return lexed_wrong(c, x, &t);
		} else if (is(&t, "AGGREGATE") ||
		           (binlog &&
		            (is(&t, "TEMPORARY") || is(&t, "UNIQUE") || is(&t, "FULLTEXT") ||
		             is(&t, "SPATIAL") || is(&t, "ONLINE")))) {
			continue;
		} else {
			break;
		}
	}
	if (t.kind != 'w')
		return lexed_wrong(c, x, &t);
	if (binlog && (is(&t, "USER") || is(&t, "ROLE"))) {
		snprintf(c->why, sizeof c->why, "CREATE %.64s", t.word);
		return DRB_SQLCHECK_SKIP;
	}
	return create_object(c, x, &t, ed, binlog);
}

/* ------------------------------------------------------------------ a dump */

/* INSERT INTO `t` (`a`,`b`) VALUES (v,v),(v,v): values are NULL, numbers, 0x hex or quoted
 * strings, exactly as the dumper writes them; anything else (a SELECT, a function) is refused.
 * One pass, no tokens: INSERTs are nearly all of a dump's bytes. */
static int check_insert(drb_sqlcheck *c, const char *s, size_t len)
{
	static const char head[] = "INSERT INTO `", values[] = ") VALUES ";
	const char *p = s, *end = s + len;
	if (len < sizeof head || memcmp(p, head, sizeof head - 1) != 0)
		return refuse(c, "an INSERT the dumper does not write");
	p += sizeof head - 2;
	for (bool first = true;; first = false) { /* the table, then each column */
		if (p >= end || *p != '`')
			return refuse(c, "an INSERT the dumper does not write");
		for (p++;; p++) {
			if (p >= end)
				return refuse(c, "an INSERT the dumper does not write");
			if (*p == '`') {
				if (p + 1 < end && p[1] == '`') {
					p++;
					continue;
				}
				break;
			}
		}
		p++;
		if (first) {
			if (end - p < 2 || p[0] != ' ' || p[1] != '(')
				return refuse(c, "an INSERT into a table of another database");
			p += 2;
			continue;
		}
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		break;
	}
	if ((size_t)(end - p) < sizeof values - 1 || memcmp(p, values, sizeof values - 1) != 0)
		return refuse(c, "an INSERT the dumper does not write");
	p += sizeof values - 1;
	for (;;) {
		if (p >= end || *p != '(')
			return refuse(c, "an INSERT of more than literal values");
		p++;
		for (;;) {
			if (p < end && *p == '\'') {
				for (p++;;) {
					while (p < end && *p != '\'' && *p != '\\' && *p != 0)
						p++;
					if (p >= end || *p == 0)
						return refuse(c, "an unterminated string");
					if (*p == '\\' && !c->no_backslash) {
						p += 2;
						continue;
					}
					if (*p == '\\') {
						p++;
						continue;
					}
					if (p + 1 < end && p[1] == '\'') {
						p += 2;
						continue;
					}
					p++;
					break;
				}
			} else if (end - p >= 4 && memcmp(p, "NULL", 4) == 0) {
				p += 4;
			} else if (end - p >= 2 && p[0] == '0' && p[1] == 'x') {
				for (p += 2; p < end &&
				             ((*p >= '0' && *p <= '9') ||
				              (*p >= 'A' && *p <= 'F') || (*p >= 'a' && *p <= 'f'));
				     p++)
					;
			} else {
				const char *q = p;
				bool digit = false;
				if (p < end && (*p == '-' || *p == '+'))
					p++;
				while (p < end &&
				       ((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' ||
				        *p == '.' || *p == 'e' || *p == 'E')) {
					digit |= *p >= '0' && *p <= '9';
					p++;
				}
				if (p == q || !digit ||
				    (*q != '-' && *q != '+' && *q != '.' && (*q < '0' || *q > '9')))
					return refuse(c, "an INSERT of more than literal values");
			}
			if (p < end && *p == ',') {
				p++;
				continue;
			}
			if (p < end && *p == ')') {
				p++;
				break;
			}
			return refuse(c, "an INSERT of more than literal values");
		}
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		while (p < end && space_byte((unsigned char)*p))
			p++;
		if (p == end)
			return 0;
		return refuse(c, "more than one statement");
	}
}

int drb_sqlcheck_dump(drb_sqlcheck *c, const char *s, size_t len)
{
	static const char *const drop_kinds[] = {"TABLE",    "VIEW",  "TRIGGER",  "PROCEDURE",
	                                         "FUNCTION", "EVENT", "SEQUENCE", NULL};
	lexer x = {.p = s, .end = s + len, .c = c};
	edits ed = {.n = 0};
	tok t;
	int rc;
	reset(c);
	if (memchr(s, 0, len))
		return refuse(c, "a NUL byte"); /* even in a comment: nothing cuts the text short */
	if (c->db && drb_db_is_system(c->db))
		return refuse(c, "the system schema %.64s", c->db);
	if (!next_tok(&x, &t))
		return t.kind == '!' ? lexed_wrong(c, &x, &t) : refuse(c, "an empty statement");
	if (is(&t, "INSERT"))
		return check_insert(c, s, len);
	if (is(&t, "SET"))
		return check_set(c, &x, dump_settings, false);
	if (is(&t, "COMMIT"))
		return expect_end(c, &x);
	if (is(&t, "USE")) {
		if (!next_tok(&x, &t) || !is_name(&t))
			return lexed_wrong(c, &x, &t);
		if ((rc = database_ok(c, t.word)) < 0)
			return rc;
		return expect_end(c, &x);
	}
	if (is(&t, "DO")) {
		/* DO SETVAL(`seq`, n, 0) */
		tok a;
		if (!next_tok(&x, &a) || !is(&a, "SETVAL") || !next_tok(&x, &a) || a.kind != '(' ||
		    !next_tok(&x, &a) || !is_name(&a))
			return refuse(c, "not a sequence value");
		tok dot;
		if (peek_tok(&x, &dot) && dot.kind == '.')
			return refuse(c, "a sequence of another database");
		for (int i = 0; i < 2; i++) {
			if (!next_tok(&x, &a) || a.kind != ',')
				return refuse(c, "not a sequence value");
			if (!next_tok(&x, &a))
				return lexed_wrong(c, &x, &a);
			if (a.kind == '-' && !next_tok(&x, &a))
				return lexed_wrong(c, &x, &a);
			if (a.kind != 'n')
				return refuse(c, "not a sequence value");
		}
		if (!next_tok(&x, &a) || a.kind != ')')
			return refuse(c, "not a sequence value");
		return expect_end(c, &x);
	}
	if (is(&t, "DROP")) {
		if (!next_tok(&x, &t) || t.kind != 'w' || !in_list(t.word, drop_kinds))
			return refuse(c, "a DROP the dumper does not write");
		if (!next_tok(&x, &t) || !is(&t, "IF") || !next_tok(&x, &t) || !is(&t, "EXISTS") ||
		    !next_tok(&x, &t))
			return refuse(c, "a DROP the dumper does not write");
		if ((rc = object_name(c, &x, &t)) < 0)
			return rc;
		return expect_end(c, &x);
	}
	if (is(&t, "CREATE")) {
		if ((rc = check_create(c, &x, false, &ed)) != 0)
			return rc;
		return apply_edits(c, s, len, &ed);
	}
	return refuse(c, "not a statement of a dump");
}

/* ------------------------------------------------------------------ a replay */

/* mariadb-binlog's own lines around the events (10.11) */
static const char *const binlog_frame[] = {
    "/*!50530 SET @@SESSION.PSEUDO_SLAVE_MODE=1*/",
    "/*!40019 SET @@session.max_delayed_threads=0*/",
    "/*!32316 SET @OLD_SQL_LOG_BIN=@@SQL_LOG_BIN, SQL_LOG_BIN=0*/",
    "/*!50003 SET @OLD_COMPLETION_TYPE=@@COMPLETION_TYPE,COMPLETION_TYPE=0*/",
    "ROLLBACK /* added by mysqlbinlog */",
    "/*!50003 SET COMPLETION_TYPE=@OLD_COMPLETION_TYPE*/",
    "/*!50530 SET @@SESSION.PSEUDO_SLAVE_MODE=0*/",
    "/*!32316 SET SQL_LOG_BIN=@OLD_SQL_LOG_BIN*/",
    "/*!100001 SET @@SESSION.SERVER_ID=@@GLOBAL.SERVER_ID */", /* after a GTID range */
    "/*!100001 SET @@SESSION.GTID_DOMAIN_ID=@@GLOBAL.GTID_DOMAIN_ID */",
    NULL};

static bool base64_text(const tok *t)
{
	for (const char *p = t->s + 1; p < t->e - 1; p++) {
		char ch = *p;
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '=' ||
		      ch == '\n' || ch == '\r'))
			return false;
	}
	return t->e - t->s >= 2 && *t->s == '\'';
}

/* /+M!100001 SET @@session.gtid_domain_id=0+/ and its kind: a session setting of the list. */
static int versioned_set(drb_sqlcheck *c, const tok *t)
{
	const char *p = t->s + 2;
	if (*p == 'M')
		p++;
	p++; /* ! */
	const char *digits = p;
	while (p < t->e && *p >= '0' && *p <= '9')
		p++;
	if (p - digits != 5 && p - digits != 6)
		return refuse(c, "an executable comment");
	lexer y = {.p = p, .end = t->e - 2, .c = c};
	tok w;
	if (!next_tok(&y, &w) || !is(&w, "SET"))
		return refuse(c, "an executable comment");
	return check_set(c, &y, binlog_settings, true);
}

static int check_ddl(drb_sqlcheck *c, lexer *x, tok *t, edits *ed)
{
	int rc;
	if (is(t, "CREATE"))
		return check_create(c, x, true, ed);
	bool alter = is(t, "ALTER"), drop = is(t, "DROP");
	if (alter || drop || is(t, "RENAME")) {
		tok k;
		if (!peek_tok(x, &k))
			return lexed_wrong(c, x, &k);
		if (is(&k, "USER") || is(&k, "ROLE")) {
			snprintf(c->why, sizeof c->why, "%.64s %.64s", t->word, k.word);
			return DRB_SQLCHECK_SKIP;
		}
		if (alter && is(&k, "DEFINER")) {
			next_tok(x, &k);
			if ((rc = definer(c, x, &k, ed)) < 0)
				return rc;
			if (!peek_tok(x, &k))
				return lexed_wrong(c, x, &k);
		}
		if ((alter || drop) && (is(&k, "DATABASE") || is(&k, "SCHEMA"))) {
			next_tok(x, &k);
			if (!next_tok(x, &k))
				return lexed_wrong(c, x, &k);
			if (drop && is(&k, "IF")) {
				if (!next_tok(x, &k) || !is(&k, "EXISTS") || !next_tok(x, &k))
					return lexed_wrong(c, x, &k);
			}
			if (!is_name(&k))
				return lexed_wrong(c, x, &k);
			if ((rc = database_ok(c, k.word)) < 0)
				return rc;
			return scan_body(c, x, BODY_PLAIN, false);
		}
		if (alter && is(&k, "EVENT")) {
			next_tok(x, &k);
			if (!next_tok(x, &k) || (rc = object_name(c, x, &k)) < 0)
				return rc < 0 ? rc : lexed_wrong(c, x, &k);
			if ((rc = event_header(c, x, ed, true)) < 0)
				return rc;
			return rc == 1 ? scan_body(c, x, BODY_COMPOUND, true) : 0;
		}
		if (alter && (is(&k, "PROCEDURE") || is(&k, "FUNCTION") || is(&k, "VIEW") ||
		              is(&k, "SEQUENCE")))
			return scan_body(c, x, is(&k, "VIEW") ? BODY_PLAIN : BODY_TABLE, false);
		static const char *const kinds[] = {
		    "TABLE", "TEMPORARY", "INDEX",  "VIEW",   "TRIGGER", "PROCEDURE", "FUNCTION",
		    "EVENT", "SEQUENCE",  "ONLINE", "IGNORE", "TABLES",  NULL};
		if (k.kind != 'w' || !in_list(k.word, kinds))
			return refuse(c, "a statement about the server (%.64s %.64s)", t->word,
			              k.kind == 'w' ? k.word : "?");
		return scan_body(c, x, alter || drop ? BODY_TABLE : BODY_PLAIN, false);
	}
	/* TRUNCATE [TABLE] t, ANALYZE|OPTIMIZE|REPAIR [NO_WRITE_TO_BINLOG|LOCAL] TABLE t */
	if (is(t, "TRUNCATE")) {
		tok k;
		if (peek_tok(x, &k) && !is(&k, "TABLE")) {
			next_tok(x, &k);
			if ((rc = object_name(c, x, &k)) < 0)
				return rc;
		}
	}
	return scan_body(c, x, BODY_PLAIN, false);
}

int drb_sqlcheck_replay(drb_sqlcheck *c, const char *s, size_t len)
{
	lexer x = {.p = s, .end = s + len, .c = c};
	edits ed = {.n = 0};
	tok t;
	int rc;
	reset(c);
	if (memchr(s, 0, len))
		return refuse(c, "a NUL byte");
	while (len && space_byte((unsigned char)s[len - 1]))
		len--;
	while (len && space_byte((unsigned char)*s))
		s++, len--;
	x.p = s;
	x.end = s + len;
	for (int i = 0; binlog_frame[i]; i++)
		if (strlen(binlog_frame[i]) == len && memcmp(s, binlog_frame[i], len) == 0)
			return 0;
	if (!next_tok(&x, &t))
		return t.kind == '!' ? lexed_wrong(c, &x, &t) : 0; /* nothing but comments */
	if (t.kind == 'c') {
		if ((rc = versioned_set(c, &t)) < 0)
			return rc;
		return expect_end(c, &x);
	}
	if (is(&t, "SET")) {
		tok k;
		if (peek_tok(&x, &k) &&
		    (is(&k, "PASSWORD") || is(&k, "ROLE") || is(&k, "DEFAULT"))) {
			snprintf(c->why, sizeof c->why, "SET %.64s", k.word);
			return DRB_SQLCHECK_SKIP;
		}
		return check_set(c, &x, binlog_settings, true);
	}
	if (is(&t, "USE")) {
		if (!next_tok(&x, &t) || !is_name(&t))
			return lexed_wrong(c, &x, &t);
		if ((rc = database_ok(c, t.word)) < 0)
			return rc;
		return expect_end(c, &x);
	}
	if (is(&t, "BINLOG")) {
		if (!next_tok(&x, &t) || t.kind != 's' || !base64_text(&t))
			return refuse(c, "a BINLOG statement that is not base64");
		return expect_end(c, &x);
	}
	if (is(&t, "BEGIN") || is(&t, "COMMIT") || is(&t, "ROLLBACK"))
		return expect_end(c, &x);
	if (is(&t, "START")) {
		if (!next_tok(&x, &t) || !is(&t, "TRANSACTION"))
			return lexed_wrong(c, &x, &t);
		return expect_end(c, &x);
	}
	if (is(&t, "XA")) {
		/* XA START|END|PREPARE|COMMIT|ROLLBACK X'..',X'..',n [ONE PHASE] */
		while (next_tok(&x, &t))
			if (t.kind != 'w' && t.kind != 's' && t.kind != 'n' && t.kind != ',')
				return lexed_wrong(c, &x, &t);
		return t.kind == '!' ? lexed_wrong(c, &x, &t) : 0;
	}
	if (is(&t, "GRANT") || is(&t, "REVOKE") || is(&t, "FLUSH")) {
		snprintf(c->why, sizeof c->why, "%.64s", t.word);
		return DRB_SQLCHECK_SKIP;
	}
	if (is(&t, "CREATE") || is(&t, "ALTER") || is(&t, "DROP") || is(&t, "RENAME") ||
	    is(&t, "TRUNCATE") || is(&t, "ANALYZE") || is(&t, "OPTIMIZE") || is(&t, "REPAIR")) {
		if ((rc = check_ddl(c, &x, &t, &ed)) != 0)
			return rc;
		return apply_edits(c, s, len, &ed);
	}
	return refuse(c, "not what mariadb-binlog writes for a row-format binlog (%.64s)",
	              t.kind == 'w' ? t.word : "?");
}
