/* The fence between SQL text from a backup and the server it is restored into. A dump or a
 * segment may come from a compromised host that signs what it forges, so each statement is
 * tokenized as the server will read it and must be one drbackup's dumper (or mariadb-binlog,
 * for a ROW-format binlog of DML and DDL) writes; definers become the restoring account and
 * events arrive disabled. Pure text in, a verdict out: no I/O, so it is unit-tested and fuzzed. */
#ifndef DRB_RESTORE_SQLCHECK_H
#define DRB_RESTORE_SQLCHECK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct drb_sqlcheck {
	const char *db;    /* the only database a statement may name; NULL: any but a system one */
	bool no_backslash; /* NO_BACKSLASH_ESCAPES is in effect: a backslash escapes nothing */
	bool ansi_quotes; /* ANSI_QUOTES: "x" is an identifier (kept from the sql_mode it passed) */
	char why[200];    /* why the last statement was refused or skipped: words, never values */
	char *rewritten;  /* after a check: the text to send instead, or NULL (owned; freed by the
	                   * next check and by drb_sqlcheck_free) */
	size_t rewritten_len;
} drb_sqlcheck;

enum {
	DRB_SQLCHECK_SKIP = 1, /* replay: a statement about accounts, not data: not sent */
};

/* One statement of a dump (without its delimiter). 0: send it (or c->rewritten);
 * DRB_ERR_REFUSED: c->why says why. */
int drb_sqlcheck_dump(drb_sqlcheck *c, const char *s, size_t len);

/* One query as the mariadb client sends it from mariadb-binlog's output (without the
 * delimiter). 0: send it (or c->rewritten); DRB_SQLCHECK_SKIP: leave it out; DRB_ERR_REFUSED. */
int drb_sqlcheck_replay(drb_sqlcheck *c, const char *s, size_t len);

/* A character set whose multi-byte characters never hold a quote or backslash byte, so the
 * client, the server and this tokenizer cut strings in the same places. */
bool drb_sqlcheck_safe_charset(const char *name);

void drb_sqlcheck_free(drb_sqlcheck *c);

#endif
