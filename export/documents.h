/* The practice's documents tree (scanned letters, images, PDFs: OpenEMR's sites/<practice>/
 * documents): walked in a stable order, regular files only, symbolic links never followed. */
#ifndef DRB_EXPORT_DOCUMENTS_H
#define DRB_EXPORT_DOCUMENTS_H

#include <sys/stat.h>

/* export { documents_dir } with "{practice}" replaced by the database name (malloc'd). */
char *drb_docs_dir(const char *templ, const char *practice);

/* fn gets each regular file below root, its path relative to root and an fd open for reading
 * (closed after fn returns); other kinds (links, devices, sockets) go to skipped with their
 * relative path. A missing root is DRB_ERR_NOT_FOUND. */
typedef int (*drb_docs_fn)(void *ud, const char *relpath, int fd, const struct stat *st);
typedef void (*drb_docs_skip_fn)(void *ud, const char *relpath, const char *why);
int drb_docs_walk(const char *root, drb_docs_fn fn, drb_docs_skip_fn skip, void *ud);

#endif
