/* hk_error.c: names and messages for the codes of hk_error.h. */
#include "hk_error.h"

#include <errno.h>
#include <string.h>

const char *hk_strerror(int err) {
  switch (err) {
  case HK_OK: return "success";
#define X(name, msg) case HK_E_##name: return msg;
    HK_ERRNO_MAP(X)
#undef X
  default: break;
  }
  if (err < 0 && err > -HK_E_BASE) return strerror(-err);
  return "unknown error";
}

const char *hk_errname(int err) {
  switch (err) {
  case HK_OK: return "HK_OK";
#define X(name, msg) case HK_E_##name: return "HK_E_" #name;
    HK_ERRNO_MAP(X)
#undef X
  default: break;
  }
  if (err < 0 && err > -HK_E_BASE) {
    const char *n = strerrorname_np(-err);
    return n ? n : "E?";
  }
  return "E?";
}
