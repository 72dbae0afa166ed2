/* Fuzz target: the parsers of S3's XML answers (listing pages first, then errors, multipart and
 * delete results) on arbitrary bytes from the network. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "s3/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	drb_s3_list_page page;
	char a[80], b[64], c[256], *id = NULL;
	int64_t skew;
	if (drb_s3_parse_list(xml, size, &page) == 0) {
		for (size_t i = 0; i < page.n; i++) /* every entry is a usable string */
			if (!page.v[i].key || !*page.v[i].key)
				abort();
		if (page.truncated && page.next_token && !*page.next_token)
			abort();
		drb_s3_list_page_free(&page);
	}
	(void)drb_s3_parse_error(xml, size, b, sizeof b, c, sizeof c, &skew);
	if (drb_s3_parse_upload_id(xml, size, &id) == 0)
		free(id);
	(void)drb_s3_parse_complete(xml, size, a, sizeof a);
	(void)drb_s3_parse_delete(xml, size, a, sizeof a, b, sizeof b, c, sizeof c);
	drb_error_clear();
	return 0;
}
