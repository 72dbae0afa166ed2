/* The repository layout: the one module that names every key below a repository's root, and
 * reads a key back into what it names. Every command asks it; nothing else spells a path.
 *
 *   <host>/full/<backup_id>/<database>.sql.drb       one object per database, one snapshot
 *   <host>/full/<backup_id>/manifest.json            written last: its presence means complete
 *   <host>/binlog/<generation>/<file>-<start>.drb    one segment: a byte range of a binlog file
 *   <host>/binlog/<generation>/<file>-<start>.json   its description
 *   <host>/binlog/<generation>/<file>-<start>-<end>-L<level>.drb/.json
 *                                                    a compacted segment (level >= 1)
 *   <host>/catalog/<generation>/<YYYYMMDD>.json      a finished day's descriptions
 *   <host>/restore-tests/<YYYYMMDDTHHMMSSZ>.json     restore-test reports
 *   <host>/holds/<practice>.json                     legal holds
 *   <host>/expired/<backup_id>.json                  what expire deleted of a full backup
 *   <host>/expired/binlog-<generation>.json          the segments expire deleted (a prefix)
 */
#ifndef DRB_LAYOUT_H
#define DRB_LAYOUT_H

#include <stdint.h>

/* A database or binlog name made safe as one path component (percent-encoding). */
char *drb_path_component(const char *name);
/* Each returns a new string (NULL when out of memory). */
char *drb_path_full_dir(const char *host, const char *backup_id);
char *drb_path_manifest(const char *host, const char *backup_id);
/* A database's dump: its file name in the backup folder, and its whole key. */
char *drb_path_dump_object(const char *database);
char *drb_path_dump(const char *host, const char *backup_id, const char *database);
char *drb_path_segment(const char *host, const char *gen, const char *file, uint64_t start,
		       const char *ext);
/* A segment of a compaction level: level 0 is drb_path_segment's name; a compacted one also
 * carries its end and level, so it never takes the name of the first segment it replaces and
 * sorts just before it. */
char *drb_path_segment_level(const char *host, const char *gen, const char *file, uint64_t start,
			     uint64_t end, int level, const char *ext);
char *drb_path_day_catalog(const char *host, const char *gen, const char *day);
/* The UTC day of t as day catalogs name it: YYYYMMDD. */
void drb_day_name(int64_t t, char out[9]);
char *drb_path_restore_test(const char *host, const char *id);
char *drb_path_hold(const char *host, const char *practice);
char *drb_path_tombstone_full(const char *host, const char *backup_id);
char *drb_path_tombstone_binlog(const char *host, const char *gen);

typedef enum drb_key_kind {
	DRB_KEY_OTHER,
	DRB_KEY_DUMP,          /* backup_id, name (the object's file name) */
	DRB_KEY_MANIFEST,      /* backup_id */
	DRB_KEY_SEGMENT,       /* generation, name (file-start), meta */
	DRB_KEY_DAY_CATALOG,   /* generation, name (YYYYMMDD) */
	DRB_KEY_RESTORE_TEST,
	DRB_KEY_HOLD,          /* name (the encoded practice) */
	DRB_KEY_TOMBSTONE,     /* backup_id, or generation for a binlog tombstone */
} drb_key_kind;

typedef struct drb_key {
	drb_key_kind kind;
	char host[128];
	char backup_id[64];
	char generation[128];
	char name[512];
	int meta; /* a .json description rather than a .drb object */
} drb_key;

/* Read a key back; DRB_KEY_OTHER for anything the layout does not name. */
void drb_key_parse(const char *path, drb_key *k);

#endif
