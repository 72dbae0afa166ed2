/* common/repo_posix and the repository layer: atomic visibility, listing order, fan-out. */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/repo.h"
#include "tests/harness.h"

static char *dir;
static char root_a[4200], root_b[4200];
static drb_repo_config cfg_a = {.name = "primary", .type = "posix"};
static drb_repo_config cfg_b = {.name = "dr", .type = "posix"};

static int setup(void **state)
{
	(void)state;
	dir = drbt_tmpdir("posix");
	snprintf(root_a, sizeof root_a, "%s/a", dir);
	snprintf(root_b, sizeof root_b, "%s/b", dir);
	mkdir(root_a, 0700);
	mkdir(root_b, 0700);
	cfg_a.path = root_a;
	cfg_b.path = root_b;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	drbt_rmtree(dir);
	free(dir);
	return 0;
}

static int count_files(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return n;
}

static void test_put_get_stat_remove(void **state)
{
	drb_repo *r;
	char *back = NULL;
	size_t len;
	drb_obj_stat st;
	(void)state;
	assert_int_equal(drb_repo_open(&cfg_a, &r), 0);
	assert_int_equal(drb_repo_put_buf(r, "h/full/1/a.sql.drb", "hello", 5, NULL), 0);
	assert_int_equal(drb_repo_stat(r, "h/full/1/a.sql.drb", &st), 0);
	assert_int_equal(st.size, 5);
	assert_int_equal(drb_repo_get_buf(r, "h/full/1/a.sql.drb", 100, &back, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(back, "hello", 5);
	free(back);
	/* replacing is whole */
	assert_int_equal(drb_repo_put_buf(r, "h/full/1/a.sql.drb", "bye", 3, NULL), 0);
	assert_int_equal(drb_repo_stat(r, "h/full/1/a.sql.drb", &st), 0);
	assert_int_equal(st.size, 3);
	/* bounded reads */
	assert_int_not_equal(drb_repo_get_buf(r, "h/full/1/a.sql.drb", 2, &back, &len), 0);
	const char *paths[] = {"h/full/1/a.sql.drb", "h/full/1/missing"};
	assert_int_equal(drb_repo_remove(r, paths, 2), 0);
	assert_int_equal(drb_repo_stat(r, "h/full/1/a.sql.drb", &st), DRB_ERR_NOT_FOUND);
	assert_int_equal(drb_repo_get_buf(r, "h/nothing", 100, &back, &len), DRB_ERR_NOT_FOUND);
	drb_repo_close(r);
}

static void test_abort_leaves_nothing(void **state)
{
	drb_repo *r;
	drb_sink *w;
	drb_obj_stat st;
	char folder[4300];
	(void)state;
	assert_int_equal(drb_repo_open(&cfg_a, &r), 0);
	assert_int_equal(drb_repo_put(r, "h/abort/x.drb", NULL, &w), 0);
	assert_int_equal(drb_sink_write(w, "partial", 7), 0);
	/* not visible while being written */
	assert_int_equal(drb_repo_stat(r, "h/abort/x.drb", &st), DRB_ERR_NOT_FOUND);
	drb_sink_abort(w);
	drb_sink_free(w);
	assert_int_equal(drb_repo_stat(r, "h/abort/x.drb", &st), DRB_ERR_NOT_FOUND);
	snprintf(folder, sizeof folder, "%s/h/abort", root_a);
	assert_int_equal(count_files(folder), 0); /* no temporary file left either */
	/* freeing an unfinished writer aborts it */
	assert_int_equal(drb_repo_put(r, "h/abort/y.drb", NULL, &w), 0);
	assert_int_equal(drb_sink_write(w, "partial", 7), 0);
	drb_sink_free(w);
	assert_int_equal(count_files(folder), 0);
	drb_repo_close(r);
}

typedef struct seen {
	char paths[64][128];
	int n;
	bool dirs[64];
} seen;

static int record(void *ud, const char *path, const drb_obj_stat *st)
{
	seen *s = ud;
	if (s->n < 64) {
		snprintf(s->paths[s->n], 128, "%s", path);
		s->dirs[s->n] = st == NULL;
		s->n++;
	}
	return 0;
}

static void test_list_order_and_prefix(void **state)
{
	drb_repo *r;
	seen s = {0};
	(void)state;
	assert_int_equal(drb_repo_open(&cfg_b, &r), 0);
	const char *keys[] = {"h/binlog/1-a/mysql-bin.000010.000000000004.drb",
			      "h/binlog/1-a/mysql-bin.000002.000000000004.drb",
			      "h/binlog/1-a/mysql-bin.000002.000000000004.json",
			      "h/full/20261124T010000Z/manifest.json",
			      "h/full/20261125T010000Z/a.sql.drb",
			      "other/full/x"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		assert_int_equal(drb_repo_put_buf(r, keys[i], "x", 1, NULL), 0);
	assert_int_equal(drb_repo_list(r, "h/", true, record, &s), 0);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.paths[0], "h/binlog/1-a/mysql-bin.000002.000000000004.drb");
	assert_string_equal(s.paths[1], "h/binlog/1-a/mysql-bin.000002.000000000004.json");
	assert_string_equal(s.paths[2], "h/binlog/1-a/mysql-bin.000010.000000000004.drb");
	assert_string_equal(s.paths[4], "h/full/20261125T010000Z/a.sql.drb");
	/* a prefix that ends inside a name */
	memset(&s, 0, sizeof s);
	assert_int_equal(drb_repo_list(r, "h/binlog/1-a/mysql-bin.00001", true, record, &s), 0);
	assert_int_equal(s.n, 1);
	/* non-recursive: folders once, with a trailing slash */
	memset(&s, 0, sizeof s);
	assert_int_equal(drb_repo_list(r, "h/full/", false, record, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.paths[0], "h/full/20261124T010000Z/");
	assert_true(s.dirs[0]);
	memset(&s, 0, sizeof s);
	assert_int_equal(drb_repo_list(r, "", false, record, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.paths[0], "h/");
	assert_string_equal(s.paths[1], "other/");
	/* only what sorts after a path */
	memset(&s, 0, sizeof s);
	assert_int_equal(drb_repo_list_after(r, "h/", "h/binlog/1-a/mysql-bin.000002.000000000004.json",
					     record, &s),
			 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.paths[0], "h/binlog/1-a/mysql-bin.000010.000000000004.drb");
	/* nothing there is not an error */
	memset(&s, 0, sizeof s);
	assert_int_equal(drb_repo_list(r, "nobody/", true, record, &s), 0);
	assert_int_equal(s.n, 0);
	drb_repo_close(r);
}

static void test_paths_are_checked(void **state)
{
	drb_repo *r;
	(void)state;
	assert_false(drb_repo_path_ok("/etc/passwd"));
	assert_false(drb_repo_path_ok("h/../../etc"));
	assert_false(drb_repo_path_ok("h/./x"));
	assert_false(drb_repo_path_ok("h//x"));
	assert_false(drb_repo_path_ok("h/x/"));
	assert_false(drb_repo_path_ok(""));
	assert_false(drb_repo_path_ok("a\\b"));
	assert_true(drb_repo_path_ok("h/full/20261125T010000Z/a b+c=d.sql.drb"));
	assert_int_equal(drb_repo_open(&cfg_a, &r), 0);
	assert_int_equal(drb_repo_put_buf(r, "../escape", "x", 1, NULL), DRB_ERR_USAGE);
	drb_repo_close(r);
}

static void test_missing_root_is_an_error(void **state)
{
	drb_repo_config c = {.name = "gone", .type = "posix", .path = "/nonexistent/drbackup"};
	drb_repo *r;
	char msg[2048];
	(void)state;
	assert_int_equal(drb_repo_open(&c, &r), 0);
	assert_int_not_equal(drb_repo_put_buf(r, "h/x", "x", 1, NULL), 0);
	drb_error_line(msg, sizeof msg);
	assert_non_null(strstr(msg, "gone"));
	assert_non_null(strstr(msg, "/nonexistent/drbackup"));
	drb_repo_close(r);
}

/* The fan-out keeps going when one repository fails, and says which. */
static void test_fanout_degrades(void **state)
{
	drb_repo_config gone = {.name = "gone", .type = "posix", .path = "/nonexistent/drbackup"};
	drb_repo *a, *g;
	drb_repo *repos[2];
	drb_repo_set set = {.repos = repos, .n = 2};
	drb_sink *f;
	drb_obj_stat st;
	char why[1024];
	(void)state;
	assert_int_equal(drb_repo_open(&cfg_a, &a), 0);
	assert_int_equal(drb_repo_open(&gone, &g), 0);
	repos[0] = g;
	repos[1] = a;
	assert_int_equal(drb_fanout_put(&set, "h/fan/x", NULL, &f), 0);
	assert_int_equal(drb_sink_write(f, "data", 4), 0);
	assert_int_equal(drb_sink_finish(f), 0);
	assert_false(drb_fanout_ok(f, 0));
	assert_true(drb_fanout_ok(f, 1));
	assert_int_equal(drb_fanout_failed(f), 1);
	drb_fanout_describe_failures(f, why, sizeof why);
	assert_non_null(strstr(why, "repository gone"));
	drb_sink_free(f);
	assert_int_equal(drb_repo_stat(a, "h/fan/x", &st), 0);
	/* all failing is a failure */
	repos[1] = g;
	assert_int_not_equal(drb_fanout_put(&set, "h/fan/y", NULL, &f), 0);
	drb_repo_close(a);
	drb_repo_close(g);
}

static void test_copy(void **state)
{
	drb_repo *a, *b;
	char *back;
	size_t len;
	(void)state;
	assert_int_equal(drb_repo_open(&cfg_a, &a), 0);
	assert_int_equal(drb_repo_open(&cfg_b, &b), 0);
	assert_int_equal(drb_repo_put_buf(a, "h/copy/x.drb", "sealed bytes", 12, NULL), 0);
	assert_int_equal(drb_repo_copy(a, b, "h/copy/x.drb", NULL, NULL), 0);
	assert_int_equal(drb_repo_get_buf(b, "h/copy/x.drb", 100, &back, &len), 0);
	assert_memory_equal(back, "sealed bytes", 12);
	free(back);
	assert_int_equal(drb_repo_copy(a, b, "h/copy/none", NULL, NULL), DRB_ERR_NOT_FOUND);
	/* a copy whose bytes are not the recorded ones is refused and leaves nothing */
	drb_obj_stat st;
	assert_int_equal(drb_repo_put_buf(a, "h/copy/y.drb", "changed", 7, NULL), 0);
	assert_int_equal(drb_repo_copy(a, b, "h/copy/y.drb", NULL,
				       "0000000000000000000000000000000000000000000000000000000000000000"),
			 DRB_ERR_INTEGRITY);
	assert_int_equal(drb_repo_stat(b, "h/copy/y.drb", &st), DRB_ERR_NOT_FOUND);
	drb_repo_close(a);
	drb_repo_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_stat_remove),
		cmocka_unit_test(test_abort_leaves_nothing),
		cmocka_unit_test(test_list_order_and_prefix),
		cmocka_unit_test(test_paths_are_checked),
		cmocka_unit_test(test_missing_root_is_an_error),
		cmocka_unit_test(test_fanout_degrades),
		cmocka_unit_test(test_copy),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
