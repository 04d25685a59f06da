/* hk_error.h: the project's error codes, generated from one X-macro list.
 * Functions return int: 0 on success, a negative code on failure. System
 * errors are passed through as -errno; project errors live below
 * HK_E_BASE so the two ranges never meet. */
#ifndef HK_ERROR_H
#define HK_ERROR_H

/* X(name, message) */
#define HK_ERRNO_MAP(X)                                                        \
  X(TRUNCATED, "file ends inside a chunk (truncated)")                        \
  X(CORRUPT, "checksum mismatch or malformed data (corrupt)")                  \
  X(BADMAGIC, "not a hakmem-sim trace (bad magic)")                            \
  X(VERSION, "trace format version is newer than this reader")                \
  X(NOTAIL, "trace has no end-of-trace summary (recording cut short)")        \
  X(RANGE, "value out of range")                                               \
  X(USAGE, "invalid arguments")                                                \
  X(NOTFOUND, "not found")                                                     \
  X(UNSUPPORTED, "not supported here")                                         \
  X(NOMEM, "out of memory")                                                    \
  X(DECOMPRESS, "zstd decompression failed")                                   \
  X(COMPRESS, "zstd compression failed")                                       \
  X(STATE, "operation not valid in this state")                                \
  X(SQLITE, "SQLite error")                                                    \
  X(SCHEMA, "database schema version is newer than this program")            \
  X(BACKEND, "allocator back end unavailable")                                 \
  X(CHILD, "child process failed")

#define HK_E_BASE 10000
enum hk_err {
  HK_OK = 0,
#define HK_ERR_ENUM_(name, msg) HK_E_##name##_,
  HK_E_FIRST_ = HK_E_BASE - 1,
  HK_ERRNO_MAP(HK_ERR_ENUM_)
#undef HK_ERR_ENUM_
};
#define HK_ERR_NEG_(name, msg) HK_E_##name = -HK_E_##name##_,
enum hk_err_neg { HK_ERRNO_MAP(HK_ERR_NEG_) HK_E_LAST_ };
#undef HK_ERR_NEG_

/* A static message for any code this project returns (-errno included). */
const char *hk_strerror(int err);
/* The symbolic name ("HK_E_CORRUPT", "ENOSPC"), for logs and tests. */
const char *hk_errname(int err);

#endif
