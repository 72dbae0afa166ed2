#include "config.h"
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* msg[0] is the root cause; msg[depth-1] the outermost context. */
static __thread drb_error_state err;

static void set_link(int i, const char *fmt, va_list ap, int errnum)
{
	char *m = err.msg[i];
	int n = vsnprintf(m, DRB_ERROR_LEN, fmt, ap);
	if (errnum && n >= 0 && n < DRB_ERROR_LEN)
		snprintf(m + n, DRB_ERROR_LEN - n, ": %s", strerror(errnum));
}

int drb_error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err.depth = 1;
	err.code = code ? code : DRB_ERR_FAILED;
	set_link(0, fmt, ap, 0);
	va_end(ap);
	return err.code;
}

int drb_error_errno(int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err.depth = 1;
	err.code = code ? code : drb_err_from_errno(errnum);
	set_link(0, fmt, ap, errnum);
	va_end(ap);
	return err.code;
}

int drb_error_wrap(int code, const char *fmt, ...)
{
	va_list ap;
	if (err.depth == 0) {
		/* nothing to wrap: this becomes the root */
		err.code = code ? code : DRB_ERR_FAILED;
	} else if (code) {
		err.code = code;
	}
	if (err.depth == DRB_ERROR_DEPTH) {
		/* keep the root and the newest contexts */
		memmove(err.msg[1], err.msg[2], (size_t)(DRB_ERROR_DEPTH - 2) * DRB_ERROR_LEN);
		err.depth--;
	}
	va_start(ap, fmt);
	set_link(err.depth, fmt, ap, 0);
	va_end(ap);
	err.depth++;
	return err.code;
}

int drb_error_code(void)
{
	return err.code;
}

void drb_error_clear(void)
{
	err.code = 0;
	err.depth = 0;
}

int drb_error_depth(void)
{
	return err.depth;
}

const char *drb_error_link(int i)
{
	if (i < 0 || i >= err.depth)
		return NULL;
	return err.msg[err.depth - 1 - i];
}

void drb_error_line(char *buf, size_t len)
{
	size_t used = 0;
	if (err.depth == 0) {
		snprintf(buf, len, "%s", "unknown error");
		return;
	}
	buf[0] = 0;
	/* outermost context first, the root cause last: a sentence that reads left to right */
	for (int i = err.depth - 1; i >= 0 && used < len; i--) {
		int n = snprintf(buf + used, len - used, "%s%s", used ? ": " : "", err.msg[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

void drb_error_save(drb_error_state *st)
{
	st->code = err.code;
	st->depth = err.depth;
	for (int i = 0; i < err.depth; i++)
		memcpy(st->msg[i], err.msg[i], DRB_ERROR_LEN);
}

void drb_error_restore(const drb_error_state *st)
{
	err.code = st->code;
	err.depth = st->depth;
	for (int i = 0; i < st->depth; i++)
		memcpy(err.msg[i], st->msg[i], DRB_ERROR_LEN);
}

void drb_redact_quoted(char *text)
{
	char *w = text;
	bool inside = false;
	for (char *r = text; *r; r++) {
		if (*r == '\'') {
			if (inside) {
				/* "'...'" stands for what was there */
				*w++ = '.';
				*w++ = '.';
				*w++ = '.';
			}
			*w++ = '\'';
			inside = !inside;
			continue;
		}
		if (!inside)
			*w++ = *r;
	}
	*w = 0;
}

int drb_err_from_errno(int errnum)
{
	switch (errnum) {
	case ENOSPC:
	case EDQUOT:
		return DRB_ERR_NO_SPACE;
	case ENOENT:
		return DRB_ERR_NOT_FOUND;
	case EEXIST:
		return DRB_ERR_EXISTS;
	case EACCES:
	case EPERM:
	case EROFS:
		return DRB_ERR_PERMISSION;
	case ENOMEM:
		return DRB_ERR_NOMEM;
	case EPIPE:
		return DRB_ERR_CLOSED;
	default:
		return DRB_ERR_IO;
	}
}

const char *drb_err_name(int code)
{
	switch (code) {
	case DRB_OK: return "ok";
	case DRB_ERR_USAGE: return "usage";
	case DRB_ERR_CONFIG: return "config";
	case DRB_ERR_IO: return "io";
	case DRB_ERR_NOMEM: return "nomem";
	case DRB_ERR_FORMAT: return "format";
	case DRB_ERR_CRYPTO: return "crypto";
	case DRB_ERR_NOT_FOUND: return "not-found";
	case DRB_ERR_EXISTS: return "exists";
	case DRB_ERR_PERMISSION: return "permission";
	case DRB_ERR_NETWORK: return "network";
	case DRB_ERR_REMOTE: return "remote";
	case DRB_ERR_DATABASE: return "database";
	case DRB_ERR_INTEGRITY: return "integrity";
	case DRB_ERR_GAP: return "gap";
	case DRB_ERR_LOCKED: return "locked";
	case DRB_ERR_NOT_IMPLEMENTED: return "not-implemented";
	case DRB_ERR_DEGRADED: return "degraded";
	case DRB_ERR_CANCELLED: return "cancelled";
	case DRB_ERR_NO_SPACE: return "no-space";
	case DRB_ERR_CHILD: return "child";
	case DRB_ERR_REFUSED: return "refused";
	case DRB_ERR_CLOSED: return "closed";
	default: return "failed";
	}
}
