/* hk_text.h: printing strings that come from files (a trace's exe, argv,
 * thread names, module paths; a database's text) so that they cannot forge
 * output lines or send terminal escapes: control characters and backslash
 * are written C-style. Header only. */
#ifndef HK_TEXT_H
#define HK_TEXT_H

#include <stdio.h>

/* Writes s to f with \n, \r, \t, \\ and \xHH (other bytes below 0x20, and
 * 0x7f) escaped; bytes from 0x80 (UTF-8) pass as they are. NULL writes
 * nothing. */
static inline void hk_fput_escaped(FILE *f, const char *s) {
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '\\')
      fputs("\\\\", f);
    else if (c == '\n')
      fputs("\\n", f);
    else if (c == '\r')
      fputs("\\r", f);
    else if (c == '\t')
      fputs("\\t", f);
    else if (c < 0x20 || c == 0x7f)
      fprintf(f, "\\x%02x", c);
    else
      fputc(c, f);
  }
}

/* Whether s holds a byte hk_fput_escaped would escape. */
static inline int hk_needs_escape(const char *s) {
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '\\' || c < 0x20 || c == 0x7f) return 1;
  }
  return 0;
}

#endif
