/* The dumper's CSV writer: one table as RFC 4180 text for spreadsheets and other databases. NULL
 * is the empty unquoted field and every value is quoted, so '' and NULL stay apart; binary
 * columns are base64, because CSV readers expect text. */
#include "config.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/dump.h"
#include "common/dump_out.h"
#include "common/error.h"

static void put_quoted(drb_out *o, const char *v, size_t len)
{
	size_t quotes = 0;
	for (size_t i = 0; i < len; i++)
		quotes += v[i] == '"';
	char *d = drb_out_room(o, len + quotes + 2);
	if (!d)
		return;
	*d++ = '"';
	if (!quotes) {
		memcpy(d, v, len);
		d += len;
	} else {
		for (size_t i = 0; i < len; i++) {
			if (v[i] == '"')
				*d++ = '"';
			*d++ = v[i];
		}
	}
	*d++ = '"';
	o->len += len + quotes + 2;
}

static void put_base64(drb_out *o, const char *v, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *d = drb_out_room(o, n + 2);
	if (!d)
		return;
	d[0] = '"';
	sodium_bin2base64(d + 1, n, (const unsigned char *)v, len, sodium_base64_VARIANT_ORIGINAL);
	d[n] = '"'; /* over the terminating NUL */
	o->len += n + 1;
}

typedef struct csv_rows {
	drb_out *o;
	const drb_dump_cols *cols;
} csv_rows;

static int csv_row(void *ud, char **row, const unsigned long *lens)
{
	csv_rows *w = ud;
	for (size_t i = 0; i < w->cols->n; i++) {
		if (i)
			drb_out_put(w->o, ",", 1);
		if (!row[i])
			continue;
		if (w->cols->kinds[i] == DRB_COL_BINARY)
			put_base64(w->o, row[i], lens[i]);
		else
			put_quoted(w->o, row[i], lens[i]);
	}
	drb_out_put(w->o, "\r\n", 2);
	return w->o->rc;
}

int drb_dump_csv(drb_db *db, const char *dbname, const char *table, drb_sink *sink, uint64_t *rows,
                 uint64_t *bytes, char ***binary, size_t *n_binary)
{
	drb_dump_cols cols = {0};
	drb_out o;
	int rc;
	*rows = 0;
	if (binary) {
		*binary = NULL;
		*n_binary = 0;
	}
	if ((rc = drb_out_init(&o, sink)) < 0)
		return rc;
	if ((rc = drb_dump_columns(db, dbname, table, &cols)) < 0)
		goto out;
	for (size_t i = 0; i < cols.n; i++) {
		if (i)
			drb_out_put(&o, ",", 1);
		put_quoted(&o, cols.names[i], strlen(cols.names[i]));
	}
	drb_out_put(&o, "\r\n", 2);
	csv_rows w = {.o = &o, .cols = &cols};
	if ((rc = drb_dump_rows(db, dbname, table, &cols, csv_row, &w, rows)) < 0)
		goto out;
	if ((rc = drb_out_flush(&o)) < 0)
		goto out;
	if (bytes)
		*bytes = o.total;
	for (size_t i = 0; binary && i < cols.n; i++) {
		if (cols.kinds[i] != DRB_COL_BINARY)
			continue;
		char **v = realloc(*binary, (*n_binary + 1) * sizeof *v);
		if (!v || !(v[*n_binary] = strdup(cols.names[i]))) {
			if (v)
				*binary = v;
			rc = drb_error(DRB_ERR_NOMEM, "out of memory");
			goto out;
		}
		*binary = v;
		(*n_binary)++;
	}
out:
	if (rc < 0) {
		drb_error_wrap(0, "writing %s.%s as CSV", dbname, table);
		if (binary) {
			drb_dump_names_free(*binary, *n_binary);
			*binary = NULL;
			*n_binary = 0;
		}
	}
	drb_dump_columns_free(&cols);
	drb_out_free(&o);
	return rc;
}
