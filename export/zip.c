/* libarchive's zip writer onto drbackup's sinks. Why libarchive: its AES-256 zip is what 7-Zip,
 * WinZip and bsdtar open, and it writes entries of unknown length, so a database dump streams
 * into the archive without a plaintext copy on disk. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "export/zip.h"

#define BLOCK (1u << 20) /* libarchive hands the sink 1 MiB at a time */

typedef struct entry_sink {
	drb_sink base;
	drb_zip *z;
} entry_sink;

struct drb_zip {
	struct archive *a;
	drb_sink *out;
	int out_rc;     /* the sink's own error, kept apart from libarchive's message */
	uint64_t bytes; /* archive bytes into out */
	int64_t mtime;
	bool in_entry;
	char name[1024];
	uint64_t entry_size;
	crypto_hash_sha256_state sha;
	entry_sink content;
	uint64_t content_total, next_progress;
	void (*progress)(void *ud, const char *entry, uint64_t in, uint64_t out);
	void *progress_ud;
};

#define PROGRESS_EVERY (4u << 20)

static la_ssize_t write_cb(struct archive *a, void *ud, const void *buf, size_t len)
{
	drb_zip *z = ud;
	(void)a;
	if (z->out_rc == 0)
		z->out_rc = drb_sink_write(z->out, buf, len);
	if (z->out_rc < 0)
		return -1;
	z->bytes += len;
	return (la_ssize_t)len;
}

static int zip_failed(drb_zip *z, const char *what)
{
	if (z->out_rc < 0)
		return drb_error_wrap(0, "zip archive: %s", what);
	return drb_error(DRB_ERR_FAILED, "zip archive: %s: %s", what, archive_error_string(z->a));
}

int drb_zip_open(drb_sink *out, const char *passphrase, int64_t mtime, drb_zip **zp)
{
	drb_zip *z = calloc(1, sizeof *z);
	int rc = 0;
	if (!z || !(z->a = archive_write_new())) {
		free(z);
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	}
	z->out = out;
	z->mtime = mtime;
	if (archive_write_set_format_zip(z->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(z->a, BLOCK) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(z->a, 1) != ARCHIVE_OK) {
		rc = zip_failed(z, "setting up the zip writer");
		goto out;
	}
	/* refused when libarchive was built without a crypto library: never fall back to plain */
	if (archive_write_set_options(z->a, "zip:encryption=aes256") != ARCHIVE_OK ||
	    archive_write_set_passphrase(z->a, passphrase) != ARCHIVE_OK) {
		rc = drb_error(DRB_ERR_CRYPTO,
		               "this libarchive cannot write AES-256 zip archives (%s): the export "
		               "is not made unencrypted",
		               archive_error_string(z->a));
		goto out;
	}
	if (archive_write_open2(z->a, z, NULL, write_cb, NULL, NULL) != ARCHIVE_OK) {
		rc = zip_failed(z, "opening the output");
		goto out;
	}
out:
	if (rc < 0) {
		drb_zip_free(z);
		return rc;
	}
	*zp = z;
	return 0;
}

static int content_write(drb_sink *s, const void *buf, size_t len)
{
	drb_zip *z = ((entry_sink *)s)->z;
	const char *p = buf;
	crypto_hash_sha256_update(&z->sha, buf, len);
	while (len > 0) {
		la_ssize_t n = archive_write_data(z->a, p, len);
		if (n <= 0)
			return zip_failed(z, z->name);
		p += n;
		len -= (size_t)n;
		z->entry_size += (uint64_t)n;
		z->content_total += (uint64_t)n;
	}
	if (z->progress && z->content_total >= z->next_progress) {
		z->next_progress = z->content_total + PROGRESS_EVERY;
		z->progress(z->progress_ud, z->name, z->content_total, z->bytes);
	}
	return 0;
}
static int content_finish(drb_sink *s)
{
	(void)s;
	return 0;
}
static void content_abort(drb_sink *s)
{
	(void)s;
}
static void content_free(drb_sink *s)
{
	(void)s;
}
static const drb_sink_ops content_ops = {"zip entry", content_write, content_finish, content_abort,
                                         content_free};

int drb_zip_entry_begin(drb_zip *z, const char *name, drb_sink **content)
{
	struct archive_entry *e = archive_entry_new();
	int rc = 0;
	if (!e)
		return drb_error(DRB_ERR_NOMEM, "out of memory");
	if (z->in_entry) {
		archive_entry_free(e);
		return drb_error(DRB_ERR_FAILED, "zip archive: %s begun inside %s", name, z->name);
	}
	snprintf(z->name, sizeof z->name, "%s", name);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_mtime(e, z->mtime, 0);
	/* no size: the entry is written with a data descriptor (and zip64 sizes) */
	if (archive_write_header(z->a, e) != ARCHIVE_OK)
		rc = zip_failed(z, name);
	archive_entry_free(e);
	if (rc < 0)
		return rc;
	z->in_entry = true;
	z->entry_size = 0;
	crypto_hash_sha256_init(&z->sha);
	z->content = (entry_sink){.base.ops = &content_ops, .z = z};
	*content = &z->content.base;
	return 0;
}

int drb_zip_entry_end(drb_zip *z, uint64_t *size, char hex[65])
{
	unsigned char d[crypto_hash_sha256_BYTES];
	if (!z->in_entry)
		return drb_error(DRB_ERR_FAILED, "zip archive: no entry to end");
	z->in_entry = false;
	if (archive_write_finish_entry(z->a) != ARCHIVE_OK)
		return zip_failed(z, z->name);
	crypto_hash_sha256_final(&z->sha, d);
	sodium_bin2hex(hex, 65, d, sizeof d);
	*size = z->entry_size;
	return 0;
}

int drb_zip_add(drb_zip *z, const char *name, const void *buf, size_t len, uint64_t *size,
                char hex[65])
{
	drb_sink *s;
	int rc = drb_zip_entry_begin(z, name, &s);
	if (rc == 0)
		rc = drb_sink_write(s, buf, len);
	if (rc == 0)
		rc = drb_zip_entry_end(z, size, hex);
	return rc;
}

int drb_zip_close(drb_zip *z)
{
	if (archive_write_close(z->a) != ARCHIVE_OK)
		return zip_failed(z, "writing the central directory");
	return 0;
}

void drb_zip_free(drb_zip *z)
{
	if (!z)
		return;
	archive_write_free(z->a); /* closes first when still open */
	free(z);
}

void drb_zip_set_progress(drb_zip *z,
                          void (*fn)(void *ud, const char *entry, uint64_t in, uint64_t out),
                          void *ud)
{
	z->progress = fn;
	z->progress_ud = ud;
}

uint64_t drb_zip_bytes(const drb_zip *z)
{
	return z->bytes;
}
