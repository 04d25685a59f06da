/* ana_internal.h: private helpers shared by the files of analysis/ (not
 * part of analysis.h). Each is labelled with the file that defines it. */
#ifndef ANA_INTERNAL_H
#define ANA_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* ana_db.c: steps q to its end and collects its first column into *ids
 * (malloc'd, the caller frees it; *n entries). q stays the caller's to
 * finalize. 0, -ENOMEM, or HK_E_SQLITE when a step failed (the database's
 * error message still says why). */
int ana_ids_of(sqlite3_stmt *q, int64_t **ids, size_t *n);
/* ana_db.c: binds s as text (copied) to parameter i of st, or NULL when s
 * is NULL. */
void ana_bind_text_or_null(sqlite3_stmt *st, int i, const char *s);
/* ana_db.c: runs sql, with the trace id bound as its first parameter, to
 * its first step: 0 when it is done, 1 when it gave a row, HK_E_SQLITE
 * when it failed (the database's error message says why). */
int ana_exec_trace(sqlite3 *db, const char *sql, int64_t trace);

#endif
