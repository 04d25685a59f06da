/* hk_elf.h: facts read from a loaded ELF object's program headers, shared
 * by the recorder's module map and the replayer's so: back end (both see
 * objects through dl_iterate_phdr). */
#ifndef HK_ELF_H
#define HK_ELF_H

#include <link.h>
#include <stdint.h>

/* Copies the object's GNU build id (from its PT_NOTE segments) into out,
 * at most max bytes; returns its length, 0 when it has none. Reads only
 * the mapped notes: no allocation, no system call. */
uint32_t hk_build_id(const struct dl_phdr_info *info, uint8_t *out,
                     uint32_t max);

#endif
