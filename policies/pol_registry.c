/* pol_registry.c: the policies by name. Adding a policy is one new file
 * and one line here. */
#include <string.h>

#include "policy.h"

static const pol_ops_t *const registry[] = {
    &pol_static_ops,
    &pol_ucb1_ops,
    &pol_elo_ops,
    &pol_evo_ops,
    &pol_oracle_ops,
};

const pol_ops_t *pol_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < HK_ARRAY_LEN(registry); i++)
    if (strcmp(registry[i]->name, name) == 0) return registry[i];
  return NULL;
}

const pol_ops_t *const *pol_list(size_t *n) {
  *n = HK_ARRAY_LEN(registry);
  return registry;
}
