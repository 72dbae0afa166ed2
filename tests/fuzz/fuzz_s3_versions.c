/* Fuzz target: the parser of ListObjectVersions answers (ListVersionsResult: versions, delete
 * markers, the markers of the next page) on arbitrary bytes from the network, which --repo-as-of
 * and delete_versions trust to pick what they read and delete. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "s3/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	drb_s3_versions_page page;
	if (drb_s3_parse_versions((const char *)data, size, &page) == 0) {
		for (size_t i = 0; i < page.n; i++) { /* every entry names a key and a version */
			if (!page.v[i].key || !*page.v[i].key || !page.v[i].version_id ||
			    !*page.v[i].version_id || page.v[i].mtime < 0)
				abort();
			if (page.v[i].delete_marker && page.v[i].size)
				abort();
		}
		if ((page.next_key && !*page.next_key) ||
		    (page.next_version && !*page.next_version))
			abort();
		drb_s3_versions_page_free(&page);
	}
	drb_error_clear();
	return 0;
}
