/* hk_sqlviews.h: keeping a results database's views those of the program
 * that opens it. The views (analysis/views.sql, published.sql) are code,
 * not data, and every statement of those scripts is CREATE ... IF NOT
 * EXISTS: applied to a database an older build wrote, they would leave
 * its old definitions in place (a config_summary that pools timing modes,
 * say) and the numbers would silently be the old build's. These two
 * functions make the stored views match the scripts (writable file) or
 * shadow them with TEMP copies (read-only file). */
#ifndef HK_SQLVIEWS_H
#define HK_SQLVIEWS_H

#include <sqlite3.h>
#include <stddef.h>

/* script with every "CREATE TABLE IF" / "CREATE VIEW IF" made
 * "CREATE TEMP TABLE IF" / "CREATE TEMP VIEW IF"; malloc'd (NULL when out
 * of memory). */
char *hk_sql_temp_copy(const char *script);

/* The CREATE VIEW IF NOT EXISTS statements of the n scripts, in order,
 * each made CREATE TEMP VIEW IF NOT EXISTS, and nothing else of them (no
 * tables, indexes, inserts or pragmas); malloc'd ("" when there are none,
 * NULL when out of memory). */
char *hk_sql_temp_views(const char *const *scripts, size_t n);

/* Drops every view of the main schema that one of the n scripts defines
 * differently (each script's CREATE VIEW IF NOT EXISTS statements are
 * compared with the stored ones as SQLite stores them, through TEMP
 * copies that are dropped again; nothing else of the scripts is run), so that applying the scripts after it
 * recreates those views as the scripts say. Views the scripts do not name
 * (a user's own) are left alone. Call inside a write transaction, before
 * applying the scripts, on a connection with no TEMP objects of its own.
 * Returns 0, or an hk error code with a one-line reason in why. */
int hk_sql_drop_stale_views(sqlite3 *db, const char *const *scripts, size_t n,
                            char *why, size_t len);

#endif
