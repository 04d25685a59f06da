/* hk_elf.c: the GNU build id of a loaded object (hk_elf.h). */
#include "hk_elf.h"

#include <elf.h>
#include <string.h>

uint32_t hk_build_id(const struct dl_phdr_info *info, uint8_t *out,
                     uint32_t max) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_NOTE) continue;
    const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
    const uint8_t *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
      size_t nsz = (nh->n_namesz + 3) & ~3u, dsz = (nh->n_descsz + 3) & ~3u;
      const uint8_t *name = p + sizeof *nh, *desc = name + nsz;
      if (desc + dsz > end) break;
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
          memcmp(name, "GNU", 4) == 0) {
        uint32_t n = nh->n_descsz < max ? nh->n_descsz : max;
        memcpy(out, desc, n);
        return n;
      }
      p = desc + dsz;
    }
  }
  return 0;
}
