/* test_symbolize.c: symbolization with libdw of this very program, built
 * with -g -O0: the return address of a call inside a known function gives
 * that function and the call's line; an always_inline helper gives the
 * inlined chain; a stripped copy, a missing file and a wrong build id give
 * module + offset; a copy without .debug_aranges (as clang links by
 * default) still gives lines and inlined frames; ana_symbolize fills the
 * symbols table of a database. */
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sqlite3.h>
#include <string.h>

#include <cmocka.h>

#include "ana_fixture.h"

static int known_line, inl_line, inl_call_line;

static HK_NOINLINE void *probe(void) { return __builtin_return_address(0); }

/* clang-format off */
static HK_NOINLINE void *known_function(void) {
  known_line = __LINE__; void *ra = probe();
  return ra;
}

static inline __attribute__((always_inline)) void *inlined_helper(void) {
  inl_line = __LINE__; return probe();
}

static HK_NOINLINE void *inlining_function(void) {
  inl_call_line = __LINE__; void *ra = inlined_helper();
  return ra;
}
/* clang-format on */

static char self[4096];
static ana_module_t self_mod;

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data) {
  /* The first object is the program itself. */
  self_mod.base = info->dlpi_addr;
  self_mod.lo = UINT64_MAX;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (lo < self_mod.lo) self_mod.lo = lo;
    if (hi > self_mod.hi) self_mod.hi = hi;
  }
  return 1;
}

static int setup(void **state) {
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return -1;
  self[n] = 0;
  dl_iterate_phdr(phdr_cb, NULL);
  self_mod.path = self;
  return 0;
}

static const char *base_name(const char *p) {
  const char *s = p ? strrchr(p, '/') : NULL;
  return s ? s + 1 : p;
}

static void lookup(const ana_module_t *m, uint64_t addr, ana_sym_t *s,
                   unsigned flags) {
  ana_symtab_t *t;
  ana_sym_stats_t st = {0};
  assert_int_equal(ana_symtab_create(m, 1, flags, &t, &st), 0);
  assert_int_equal(ana_symtab_lookup(t, addr, 1, s), 0);
  /* module points into the symtab: compare before freeing it */
  assert_string_equal(s->module, m->path);
  s->module = NULL;
  ana_symtab_free(t);
}

static void test_function_and_line(void **state) {
  uint64_t ra = (uint64_t)(uintptr_t)known_function();
  ana_sym_t s;
  lookup(&self_mod, ra, &s, 0);
  assert_non_null(s.function);
  assert_string_equal(s.function, "known_function");
  assert_non_null(s.file);
  assert_string_equal(base_name(s.file), "test_symbolize.c");
  assert_int_equal(s.line, known_line);
  assert_int_equal(s.n_inlines, 0);
  assert_int_equal(s.offset, ra - self_mod.base);
  ana_sym_release(&s);
}

static void test_not_return_address(void **state) {
  /* The function's own entry, looked up as is. */
  uint64_t a = (uint64_t)(uintptr_t)known_function;
  ana_symtab_t *t;
  assert_int_equal(ana_symtab_create(&self_mod, 1, 0, &t, NULL), 0);
  ana_sym_t s;
  assert_int_equal(ana_symtab_lookup(t, a, 0, &s), 0);
  assert_string_equal(s.function, "known_function");
  assert_true(s.line > 0 && s.line < known_line);
  ana_sym_release(&s);
  ana_symtab_free(t);
}

static void test_inlined(void **state) {
  uint64_t ra = (uint64_t)(uintptr_t)inlining_function();
  ana_sym_t s;
  lookup(&self_mod, ra, &s, 0);
  assert_string_equal(s.function, "inlined_helper");
  assert_int_equal(s.line, inl_line);
  assert_int_equal(s.n_inlines, 2);
  assert_string_equal(s.inlines[0].function, "inlined_helper");
  assert_int_equal(s.inlines[0].line, inl_line);
  assert_string_equal(s.inlines[1].function, "inlining_function");
  assert_int_equal(s.inlines[1].line, inl_call_line);
  assert_string_equal(base_name(s.inlines[1].file), "test_symbolize.c");
  ana_sym_release(&s);
}

static void test_stripped(void **state) {
  char tmp[] = "/tmp/hksim-ana-stripped-XXXXXX";
  int fd = mkstemp(tmp);
  assert_true(fd >= 0);
  close(fd);
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "objcopy --strip-all '%s' '%s' 2>/dev/null", self,
           tmp);
  if (system(cmd) != 0) {
    snprintf(cmd, sizeof cmd, "strip -o '%s' '%s' 2>/dev/null", tmp, self);
    if (system(cmd) != 0) {
      unlink(tmp);
      skip(); /* neither objcopy nor strip */
    }
  }
  ana_module_t m = self_mod;
  m.path = tmp;
  uint64_t ra = (uint64_t)(uintptr_t)known_function();
  ana_sym_t s;
  lookup(&m, ra, &s, 0);
  assert_null(s.function);
  assert_null(s.file);
  assert_int_equal(s.line, 0);
  assert_int_equal(s.offset, ra - self_mod.base);
  ana_sym_release(&s);
  unlink(tmp);
}

/* clang emits no .debug_aranges (without -gdwarf-aranges), and libdwfl
 * 0.188 finds compile units through that section only: under clang every
 * lookup came back with the function (symbol table) but no file, line or
 * inlined chain. A copy of this program without the section is that case
 * under gcc too (under clang the copy is the same program). */
static void test_no_aranges(void **state) {
  char tmp[] = "/tmp/hksim-ana-noaranges-XXXXXX";
  int fd = mkstemp(tmp);
  assert_true(fd >= 0);
  close(fd);
  char cmd[8192];
  snprintf(cmd, sizeof cmd,
           "objcopy --remove-section=.debug_aranges '%s' '%s' 2>/dev/null",
           self, tmp);
  if (system(cmd) != 0) {
    unlink(tmp);
    skip(); /* no objcopy */
  }
  ana_module_t m = self_mod;
  m.path = tmp;
  m.build_id = NULL; /* objcopy keeps the note; nothing to check here */
  uint64_t ra = (uint64_t)(uintptr_t)known_function();
  ana_sym_t s;
  lookup(&m, ra, &s, 0);
  assert_string_equal(s.function, "known_function");
  assert_non_null(s.file);
  assert_string_equal(base_name(s.file), "test_symbolize.c");
  assert_int_equal(s.line, known_line);
  assert_int_equal(s.n_inlines, 0);
  ana_sym_release(&s);
  ra = (uint64_t)(uintptr_t)inlining_function();
  lookup(&m, ra, &s, 0);
  assert_string_equal(s.function, "inlined_helper");
  assert_int_equal(s.line, inl_line);
  assert_int_equal(s.n_inlines, 2);
  assert_string_equal(s.inlines[1].function, "inlining_function");
  assert_int_equal(s.inlines[1].line, inl_call_line);
  ana_sym_release(&s);
  /* an address in no unit (the ELF header): no line, no error */
  lookup(&m, self_mod.base + 64, &s, 0);
  assert_null(s.file);
  assert_int_equal(s.line, 0);
  ana_sym_release(&s);
  unlink(tmp);
}

static void test_missing_file(void **state) {
  ana_module_t m = self_mod;
  m.path = "/nonexistent/dir/libgone.so";
  ana_symtab_t *t;
  ana_sym_stats_t st = {0};
  assert_int_equal(ana_symtab_create(&m, 1, 0, &t, &st), 0);
  assert_int_equal(st.modules_missing, 1);
  uint64_t ra = (uint64_t)(uintptr_t)known_function();
  ana_sym_t s;
  assert_int_equal(ana_symtab_lookup(t, ra, 1, &s), 0);
  assert_null(s.function);
  assert_string_equal(s.module, "/nonexistent/dir/libgone.so");
  assert_int_equal(s.offset, ra - self_mod.base);
  ana_sym_release(&s);
  /* outside every module: nothing at all */
  assert_int_equal(ana_symtab_lookup(t, 16, 1, &s), 0);
  assert_null(s.module);
  ana_sym_release(&s);
  ana_symtab_free(t);
}

static void test_build_id_mismatch(void **state) {
  ana_module_t m = self_mod;
  m.build_id = "0123456789abcdef0123456789abcdef01234567";
  ana_symtab_t *t;
  ana_sym_stats_t st = {0};
  assert_int_equal(ana_symtab_create(&m, 1, 0, &t, &st), 0);
  uint64_t ra = (uint64_t)(uintptr_t)known_function();
  ana_sym_t s;
  assert_int_equal(ana_symtab_lookup(t, ra, 1, &s), 0);
  int have_id = st.build_id_mismatch == 1;
  if (have_id) assert_null(s.function); /* the file is not what ran */
  ana_sym_release(&s);
  ana_symtab_free(t);
  /* told not to check: symbols again */
  lookup(&m, ra, &s, ANA_SYM_NO_BUILDID);
  assert_string_equal(s.function, "known_function");
  ana_sym_release(&s);
  if (!have_id) skip(); /* linked without a build id note */
}

static void test_database(void **state) {
  char path[256];
  ana_db_t *db = ana_fixture_open(path, sizeof path, 0);
  assert_non_null(db);
  uint64_t ra = (uint64_t)(uintptr_t)known_function();
  uint64_t ri = (uint64_t)(uintptr_t)inlining_function();
  char sql[16384], why[256];
  snprintf(sql, sizeof sql,
           "INSERT INTO traces(trace_id, content_hash, name, path, added_at)"
           " VALUES (1, 'h', 'self.hkt', '/x', 'now');"
           "INSERT INTO modules VALUES (1, 1, '%s', %llu, %llu, %llu, NULL),"
           " (1, 2, '/nonexistent/libgone.so', 4096, 4096, 8192, NULL);"
           "INSERT INTO sites(trace_id, site, caller, module_id, depth, frames)"
           " VALUES (1, 1, %llu, 1, 2, '%llx %llx'), (1, 2, 5000, 2, 1, '1388');",
           self, (unsigned long long)self_mod.base,
           (unsigned long long)self_mod.lo, (unsigned long long)self_mod.hi,
           (unsigned long long)ra, (unsigned long long)ra,
           (unsigned long long)ri);
  assert_int_equal(ana_db_exec(db, sql, why, sizeof why), 0);
  ana_sym_stats_t st;
  assert_int_equal(ana_symbolize(db, -1, 0, &st, why, sizeof why), 0);
  assert_int_equal(st.traces, 1);
  assert_int_equal(st.addresses, 3);
  assert_int_equal(st.with_function, 2);
  assert_int_equal(st.inlined, 1);
  assert_int_equal(st.modules_missing, 1);
  /* once per trace: a second call skips it, --force redoes it */
  assert_int_equal(ana_symbolize(db, -1, 0, &st, why, sizeof why), 0);
  assert_int_equal(st.traces_skipped, 1);
  assert_int_equal(st.addresses, 0);
  assert_int_equal(ana_symbolize(db, 1, ANA_SYM_FORCE, &st, why, sizeof why), 0);
  assert_int_equal(st.addresses, 3);
  assert_int_equal(ana_symbolize(db, 7, 0, &st, why, sizeof why), HK_E_NOTFOUND);

  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(ana_db_sqlite(db),
                                      "SELECT s.function, s.line, y.label"
                                      " FROM site_summary s JOIN site_symbols"
                                      " y USING (trace_id, site) ORDER BY site",
                                      -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "known_function");
  assert_int_equal(sqlite3_column_int(q, 1), known_line);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_type(q, 0), SQLITE_NULL);
  assert_string_equal((const char *)sqlite3_column_text(q, 2), "libgone.so+0x388");
  sqlite3_finalize(q);
  assert_int_equal(sqlite3_prepare_v2(ana_db_sqlite(db),
                                      "SELECT group_concat(function, '<') FROM"
                                      " (SELECT function FROM symbol_inlines"
                                      " ORDER BY depth)",
                                      -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0),
                      "inlined_helper<inlining_function");
  sqlite3_finalize(q);
  ana_db_free(db);
  unlink(path);
}

static void test_free_null(void **state) {
  ana_symtab_free(NULL);
  ana_sym_release(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_function_and_line),
      cmocka_unit_test(test_not_return_address),
      cmocka_unit_test(test_inlined),
      cmocka_unit_test(test_stripped),
      cmocka_unit_test(test_no_aranges),
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_build_id_mismatch),
      cmocka_unit_test(test_database),
      cmocka_unit_test(test_free_null),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
