/* cmd_sweep.c: `hksim sweep plan SWEEP.json -o DIR` and `hksim sweep run
 * PLAN (--shard I | --local)`. A plan fixes a sweep (traces by path and
 * content hash, back ends, policies, seeds, repeats, replay options, shard
 * count) and comes with a Slurm job array that runs one shard a task into
 * DIR/shard-I.db and a dependent job that merges them (docs/cluster.md).
 * Each shard is `hksim replay --shard I/N`, once per seed. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "replayer.h"
#include "trc.h"

extern const cli_cmd_t cli_cmd_replay;

#define PLAN_VERSION 1
#define MAX_ITEMS 64

/* ---- the sweep description and the plan -------------------------------- */

typedef struct sweep {
  char name[64];
  char *traces[MAX_ITEMS];
  char hashes[MAX_ITEMS][17];
  uint64_t events[MAX_ITEMS];
  size_t n_traces;
  const char *backends[MAX_ITEMS], *policies[MAX_ITEMS], *options[MAX_ITEMS];
  size_t n_backends, n_policies, n_options;
  uint64_t seeds[MAX_ITEMS];
  size_t n_seeds;
  uint64_t repeats, shards;
  char cache_dir[PATH_MAX + 16];
  const char *partition, *time_limit, *mem, *account;
  uint64_t cpus;
  char hksim[PATH_MAX], dir[PATH_MAX];
  json_object *root; /* owns the strings above */
} sweep_t;

static void sweep_release(sweep_t *s) {
  for (size_t i = 0; i < s->n_traces; i++) free(s->traces[i]);
  if (s->root) json_object_put(s->root);
}

/* One strict reading: every key known, every value of its type. Errors
 * name the file and the key. */
typedef struct rd {
  const char *file;
  char why[512];
} rd_t;

static int fail(rd_t *r, const char *fmt, ...) HK_PRINTF(2, 3);
static int fail(rd_t *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->why, sizeof r->why, fmt, ap);
  va_end(ap);
  return -1;
}

static int get_strings(rd_t *r, json_object *o, const char *key,
                       const char **out, size_t *n, int required) {
  json_object *v;
  *n = 0;
  if (!json_object_object_get_ex(o, key, &v))
    return required ? fail(r, "'%s' is missing", key) : 0;
  if (!json_object_is_type(v, json_type_array))
    return fail(r, "'%s' must be an array of strings", key);
  size_t len = json_object_array_length(v);
  if (len > MAX_ITEMS) return fail(r, "'%s' has more than %d items", key, MAX_ITEMS);
  if (required && len == 0) return fail(r, "'%s' is empty", key);
  for (size_t i = 0; i < len; i++) {
    json_object *e = json_object_array_get_idx(v, i);
    if (!json_object_is_type(e, json_type_string) || !*json_object_get_string(e))
      return fail(r, "'%s'[%zu] must be a non-empty string", key, i);
    out[(*n)++] = json_object_get_string(e);
  }
  return 0;
}

static int get_u64(rd_t *r, json_object *o, const char *key, uint64_t *out,
                   uint64_t lo, uint64_t hi, int required) {
  json_object *v;
  if (!json_object_object_get_ex(o, key, &v))
    return required ? fail(r, "'%s' is missing", key) : 0;
  if (!json_object_is_type(v, json_type_int))
    return fail(r, "'%s' must be an integer", key);
  int64_t x = json_object_get_int64(v);
  if (x < 0 || (uint64_t)x < lo || (uint64_t)x > hi)
    return fail(r, "'%s' must be in %llu..%llu", key, (unsigned long long)lo,
                (unsigned long long)hi);
  *out = (uint64_t)x;
  return 0;
}

static int get_str(rd_t *r, json_object *o, const char *key, const char **out) {
  json_object *v;
  if (!json_object_object_get_ex(o, key, &v)) return 0;
  if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
    return fail(r, "'%s' must be a non-empty string", key);
  *out = json_object_get_string(v);
  return 0;
}

static int only_keys(rd_t *r, json_object *o, const char *where,
                     const char *const *known) {
  json_object_object_foreach(o, key, val) {
    (void)val;
    const char *const *k = known;
    while (*k && strcmp(*k, key)) k++;
    if (!*k) return fail(r, "unknown key '%s'%s%s", key, where[0] ? " in " : "", where);
  }
  return 0;
}

static json_object *load_json(rd_t *r, const char *path) {
  json_object *root = json_object_from_file(path);
  if (!root) {
    if (access(path, R_OK))
      fail(r, "cannot read: %s", strerror(errno));
    else
      fail(r, "not valid JSON: %s", json_util_get_last_err());
    /* json-c's message ends with a newline. */
    size_t n = strlen(r->why);
    while (n && r->why[n - 1] == '\n') r->why[--n] = 0;
    return NULL;
  }
  if (!json_object_is_type(root, json_type_object)) {
    json_object_put(root);
    fail(r, "the top level must be an object");
    return NULL;
  }
  return root;
}

/* Reads the keys a sweep description and a plan share. */
static int read_common(rd_t *r, json_object *root, sweep_t *s) {
  const char *name = "sweep";
  size_t n;
  if (get_str(r, root, "name", &name) ||
      get_strings(r, root, "backends", s->backends, &s->n_backends, 1) ||
      get_strings(r, root, "policies", s->policies, &s->n_policies, 0) ||
      get_strings(r, root, "options", s->options, &s->n_options, 0) ||
      get_u64(r, root, "repeats", &s->repeats, 1, 100000, 0) ||
      get_u64(r, root, "shards", &s->shards, 1, 65536, 0))
    return -1;
  for (const char *p = name; *p; p++)
    if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') ||
          (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
      return fail(r, "'name' may hold letters, digits, '-', '_' and '.' only");
  snprintf(s->name, sizeof s->name, "%s", name);
  json_object *v;
  if (json_object_object_get_ex(root, "seeds", &v)) {
    if (!json_object_is_type(v, json_type_array) ||
        (n = json_object_array_length(v)) == 0 || n > MAX_ITEMS)
      return fail(r, "'seeds' must be an array of 1 to %d integers", MAX_ITEMS);
    for (size_t i = 0; i < n; i++) {
      json_object *e = json_object_array_get_idx(v, i);
      if (!json_object_is_type(e, json_type_int) || json_object_get_int64(e) < 0)
        return fail(r, "'seeds'[%zu] must be an integer >= 0", i);
      s->seeds[s->n_seeds++] = (uint64_t)json_object_get_int64(e);
    }
  }
  if (json_object_object_get_ex(root, "slurm", &v)) {
    static const char *const keys[] = {"partition", "time", "mem",
                                       "cpus_per_task", "account", NULL};
    if (!json_object_is_type(v, json_type_object))
      return fail(r, "'slurm' must be an object");
    if (only_keys(r, v, "'slurm'", keys) ||
        get_str(r, v, "partition", &s->partition) ||
        get_str(r, v, "time", &s->time_limit) || get_str(r, v, "mem", &s->mem) ||
        get_str(r, v, "account", &s->account) ||
        get_u64(r, v, "cpus_per_task", &s->cpus, 1, 1024, 0))
      return -1;
  }
  for (size_t i = 0; i < s->n_backends; i++)
    if (!rpl_backend_find(s->backends[i]))
      return fail(r, "unknown back end '%s'", s->backends[i]);
  for (size_t i = 0; i < s->n_policies; i++)
    if (!rpl_policy_known(s->policies[i]))
      return fail(r, "unknown policy '%s' (known: %s)", s->policies[i],
                  rpl_policy_names());
  /* Options are replay's; the plan sets these itself. */
  static const char *const owned[] = {"--db", "--backend", "--backends", "--policy",
                                      "--policies", "--seed", "--repeat",
                                      "--shard", "--cache-dir", "--no-cache", NULL};
  for (size_t i = 0; i < s->n_options; i++)
    for (const char *const *o = owned; *o; o++)
      if (strcmp(s->options[i], *o) == 0)
        return fail(r, "'options' may not hold %s: the sweep sets it", *o);
  /* --threads is resolved per run (auto when absent: recorded on a
   * multi-thread trace for the back ends that allow it); a bad mode is
   * refused here rather than by every shard's replay. */
  rpl_threads_t m;
  for (size_t i = 0; i < s->n_options; i++)
    if (strcmp(s->options[i], "--threads") == 0 &&
        (i + 1 == s->n_options || rpl_threads_parse(s->options[i + 1], &m)))
      return fail(r, "'options': --threads wants auto, serial or recorded%s%s%s",
                  i + 1 < s->n_options ? ", not '" : "",
                  i + 1 < s->n_options ? s->options[i + 1] : "",
                  i + 1 < s->n_options ? "'" : "");
  return 0;
}

/* ---- plan ---------------------------------------------------------------- */

static int write_file(const char *path, const char *text, mode_t mode,
                      char *why, size_t len) {
  char tmp[PATH_MAX + 16];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    snprintf(why, len, "cannot write %.400s: %s", tmp, strerror(errno));
    return -1;
  }
  int bad = fputs(text, f) < 0;
  bad |= fclose(f) != 0;
  if (bad || chmod(tmp, mode) || rename(tmp, path)) {
    snprintf(why, len, "cannot write %.400s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

static char *sbatch_text(const sweep_t *s, int merge) {
  size_t cap = 16384;
  char *t = malloc(cap), *p = t;
  if (!t) return NULL;
#define ADD(...) p += snprintf(p, cap - (size_t)(p - t), __VA_ARGS__)
  ADD("#!/bin/bash\n# Written by 'hksim sweep plan' for %s/plan.json: %s.\n",
      s->dir, merge ? "merges the shards once every task succeeded"
                    : "one task per shard of the run matrix");
  ADD("#SBATCH --job-name=hksim-%s%s\n", s->name, merge ? "-merge" : "");
  if (!merge) ADD("#SBATCH --array=0-%llu\n", (unsigned long long)s->shards - 1);
  ADD("#SBATCH --output=%s/logs/%s.out\n", s->dir, merge ? "merge" : "shard-%a");
  ADD("#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=%llu\n",
      (unsigned long long)(s->cpus ? s->cpus : 1));
  if (s->partition) ADD("#SBATCH --partition=%s\n", s->partition);
  if (s->account) ADD("#SBATCH --account=%s\n", s->account);
  if (s->time_limit) ADD("#SBATCH --time=%s\n", s->time_limit);
  if (s->mem && !merge) ADD("#SBATCH --mem=%s\n", s->mem);
  ADD("set -eu\n");
  if (merge) {
    ADD("exec '%s' merge '%s/merged.db'", s->hksim, s->dir);
    for (uint64_t i = 0; i < s->shards; i++)
      ADD(" '%s/shard-%llu.db'", s->dir, (unsigned long long)i);
    ADD("\n");
  } else {
    ADD("exec '%s' sweep run '%s/plan.json' --shard \"$SLURM_ARRAY_TASK_ID\"\n",
        s->hksim, s->dir);
  }
#undef ADD
  return t;
}

static int cmd_plan(int argc, char **argv) {
  static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *out = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    if (c == 'o')
      out = optarg;
    else if (c == 'h')
      return -1;
    else
      return cli_usage("sweep", "unknown option or missing value '%s'",
                       argv[optind - 1]);
  }
  if (optind != argc - 1) return cli_usage("sweep", "plan wants one SWEEP.json");
  if (!out) return cli_usage("sweep", "plan wants -o DIR");
  const char *file = argv[optind];
  rd_t r = {file, ""};
  sweep_t s;
  memset(&s, 0, sizeof s);
  s.repeats = 1;
  s.shards = 1;
  static const char *const keys[] = {"name", "traces", "backends", "policies",
                                     "seeds", "repeats", "options", "shards",
                                     "cache_dir", "slurm", NULL};
  const char *traces[MAX_ITEMS], *cache = NULL;
  size_t nt = 0;
  int rc = CLI_FAIL;
  s.root = load_json(&r, file);
  if (!s.root || only_keys(&r, s.root, "", keys) || read_common(&r, s.root, &s) ||
      get_strings(&r, s.root, "traces", traces, &nt, 1) ||
      get_str(&r, s.root, "cache_dir", &cache))
    goto bad;
  if (s.n_seeds == 0) s.seeds[s.n_seeds++] = 1;
  /* Trace paths are relative to the description's folder. */
  char base[PATH_MAX];
  snprintf(base, sizeof base, "%s", file);
  char *slash = strrchr(base, '/');
  if (slash)
    slash[1] = 0;
  else
    strcpy(base, "./");
  for (size_t i = 0; i < nt; i++) {
    char joined[2 * PATH_MAX];
    snprintf(joined, sizeof joined, "%s%s", traces[i][0] == '/' ? "" : base,
             traces[i]);
    s.traces[i] = realpath(joined, NULL);
    if (!s.traces[i]) {
      fail(&r, "trace '%s': %s", traces[i], strerror(errno));
      goto bad;
    }
    s.n_traces = i + 1;
    uint64_t h;
    int e = trc_file_hash(s.traces[i], &h);
    if (e) {
      fail(&r, "trace '%s': %s", traces[i], hk_strerror(e));
      goto bad;
    }
    snprintf(s.hashes[i], sizeof s.hashes[i], "%016llx", (unsigned long long)h);
    trc_reader_t *tr;
    if ((e = trc_reader_open(&tr, s.traces[i])) != 0) {
      fail(&r, "trace '%s': %s", traces[i], hk_strerror(e));
      goto bad;
    }
    trc_reader_free(tr);
    s.events[i] = rpl_trace_events(s.traces[i]);
  }
  if (mkdir(out, 0755) && errno != EEXIST) {
    cli_error(out, "cannot create: %s", strerror(errno));
    goto out;
  }
  if (!realpath(out, s.dir) || !realpath("/proc/self/exe", s.hksim)) {
    cli_error(out, "%s", strerror(errno));
    goto out;
  }
  char logs[PATH_MAX + 8];
  snprintf(logs, sizeof logs, "%s/logs", s.dir);
  mkdir(logs, 0755);
  if (cache && cache[0] != '/') {
    fail(&r, "'cache_dir' must be an absolute path (tasks run elsewhere)");
    goto bad;
  }
  snprintf(s.cache_dir, sizeof s.cache_dir, "%s", cache ? cache : "");
  if (!cache) snprintf(s.cache_dir, sizeof s.cache_dir, "%s/cache", s.dir);

  /* The plan: everything a task needs, nothing relative. */
  json_object *p = json_object_new_object(), *a;
  json_object_object_add(p, "plan_version", json_object_new_int(PLAN_VERSION));
  json_object_object_add(p, "name", json_object_new_string(s.name));
  json_object_object_add(p, "hksim", json_object_new_string(s.hksim));
  json_object_object_add(p, "dir", json_object_new_string(s.dir));
  json_object_object_add(p, "cache_dir", json_object_new_string(s.cache_dir));
  a = json_object_new_array();
  uint64_t runs_per_trace = 0;
  for (size_t b = 0; b < s.n_backends; b++)
    runs_per_trace += rpl_backend_find(s.backends[b])->takes_policy
                          ? (s.n_policies ? s.n_policies : 1)
                          : 1;
  for (size_t i = 0; i < s.n_traces; i++) {
    json_object *t = json_object_new_object();
    json_object_object_add(t, "path", json_object_new_string(s.traces[i]));
    json_object_object_add(t, "content_hash", json_object_new_string(s.hashes[i]));
    json_object_object_add(t, "events", json_object_new_int64((int64_t)s.events[i]));
    json_object_array_add(a, t);
  }
  json_object_object_add(p, "traces", a);
#define LIST(key, arr, n)                                                      \
  do {                                                                         \
    a = json_object_new_array();                                               \
    for (size_t i = 0; i < (n); i++)                                           \
      json_object_array_add(a, json_object_new_string((arr)[i]));              \
    json_object_object_add(p, key, a);                                         \
  } while (0)
  LIST("backends", s.backends, s.n_backends);
  if (s.n_policies == 0) s.policies[s.n_policies++] = "static";
  LIST("policies", s.policies, s.n_policies);
  a = json_object_new_array();
  for (size_t i = 0; i < s.n_seeds; i++)
    json_object_array_add(a, json_object_new_int64((int64_t)s.seeds[i]));
  json_object_object_add(p, "seeds", a);
  json_object_object_add(p, "repeats", json_object_new_int64((int64_t)s.repeats));
  LIST("options", s.options, s.n_options);
  json_object_object_add(p, "shards", json_object_new_int64((int64_t)s.shards));
  json_object_object_add(p, "runs",
                         json_object_new_int64((int64_t)(s.n_traces * runs_per_trace *
                                                         s.n_seeds * s.repeats)));
  json_object *sl;
  if (json_object_object_get_ex(s.root, "slurm", &sl))
    json_object_object_add(p, "slurm", json_object_get(sl));
#undef LIST
  char why[512] = "", path[PATH_MAX + 32];
  const char *text = json_object_to_json_string_ext(
      p, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
  char *plan_text = malloc(strlen(text) + 2);
  if (plan_text) sprintf(plan_text, "%s\n", text);
  json_object_put(p);
  char *sweep_sh = sbatch_text(&s, 0), *merge_sh = sbatch_text(&s, 1);
  char submit[PATH_MAX * 2 + 512];
  snprintf(submit, sizeof submit,
           "#!/bin/sh\n# Written by 'hksim sweep plan': submits the job array"
           " and the merge that waits for it.\nset -eu\ncd '%s'\n"
           "array=$(sbatch --parsable sweep.sbatch)\n"
           "array=${array%%%%;*}\n"
           "merge=$(sbatch --parsable --dependency=afterok:$array merge.sbatch)\n"
           "echo \"array $array merge ${merge%%%%;*}\"\n",
           s.dir);
  rc = CLI_FAIL;
  if (!plan_text || !sweep_sh || !merge_sh) {
    cli_error(out, "out of memory");
  } else {
    snprintf(path, sizeof path, "%s/plan.json", s.dir);
    int e = write_file(path, plan_text, 0644, why, sizeof why);
    snprintf(path, sizeof path, "%s/sweep.sbatch", s.dir);
    if (!e) e = write_file(path, sweep_sh, 0755, why, sizeof why);
    snprintf(path, sizeof path, "%s/merge.sbatch", s.dir);
    if (!e) e = write_file(path, merge_sh, 0755, why, sizeof why);
    snprintf(path, sizeof path, "%s/submit.sh", s.dir);
    if (!e) e = write_file(path, submit, 0755, why, sizeof why);
    if (e) {
      cli_error(NULL, "%s", why);
    } else {
      printf("plan %s: %zu trace(s), %llu run(s) in %llu shard(s)\n"
             "  %s/plan.json\n  %s/sweep.sbatch (job array)\n"
             "  %s/merge.sbatch (merge, after the array)\n"
             "  %s/submit.sh (sbatch both)\n",
             s.name, s.n_traces,
             (unsigned long long)(s.n_traces * runs_per_trace * s.n_seeds *
                                  s.repeats),
             (unsigned long long)s.shards, s.dir, s.dir, s.dir, s.dir);
      rc = CLI_OK;
    }
  }
  free(plan_text);
  free(sweep_sh);
  free(merge_sh);
  goto out;
bad:
  cli_error(file, "%s", r.why);
  rc = CLI_FAIL;
out:
  sweep_release(&s);
  return rc;
}

/* ---- run ------------------------------------------------------------------ */

static int read_plan(const char *file, sweep_t *s, rd_t *r) {
  static const char *const keys[] = {"plan_version", "name", "hksim", "dir",
                                     "cache_dir", "traces", "backends",
                                     "policies", "seeds", "repeats", "options",
                                     "shards", "runs", "slurm", NULL};
  uint64_t v = 0, runs = 0;
  const char *dir = NULL, *cache = NULL;
  s->root = load_json(r, file);
  if (!s->root || only_keys(r, s->root, "", keys) ||
      get_u64(r, s->root, "plan_version", &v, 0, UINT32_MAX, 1))
    return -1;
  if (v != PLAN_VERSION)
    return fail(r, "plan version %llu, this program reads version %d",
                (unsigned long long)v, PLAN_VERSION);
  if (read_common(r, s->root, s) || get_str(r, s->root, "dir", &dir) ||
      get_str(r, s->root, "cache_dir", &cache) ||
      get_u64(r, s->root, "runs", &runs, 0, UINT64_MAX, 0))
    return -1;
  if (!dir) return fail(r, "'dir' is missing");
  if (s->n_seeds == 0) return fail(r, "'seeds' is missing");
  snprintf(s->dir, sizeof s->dir, "%s", dir);
  snprintf(s->cache_dir, sizeof s->cache_dir, "%s", cache ? cache : "");
  json_object *t;
  if (!json_object_object_get_ex(s->root, "traces", &t) ||
      !json_object_is_type(t, json_type_array) || json_object_array_length(t) == 0 ||
      json_object_array_length(t) > MAX_ITEMS)
    return fail(r, "'traces' must be an array of 1 to %d objects", MAX_ITEMS);
  static const char *const tkeys[] = {"path", "content_hash", "events", NULL};
  for (size_t i = 0; i < json_object_array_length(t); i++) {
    json_object *e = json_object_array_get_idx(t, i);
    const char *path = NULL, *hash = NULL;
    if (!json_object_is_type(e, json_type_object) ||
        only_keys(r, e, "'traces'", tkeys) || get_str(r, e, "path", &path) ||
        get_str(r, e, "content_hash", &hash) ||
        get_u64(r, e, "events", &s->events[i], 0, UINT64_MAX, 0))
      return r->why[0] ? -1 : fail(r, "'traces'[%zu] must be an object", i);
    if (!path || !hash || strlen(hash) != 16)
      return fail(r, "'traces'[%zu] needs 'path' and a 16-digit 'content_hash'", i);
    s->traces[i] = strdup(path);
    if (!s->traces[i]) return fail(r, "out of memory");
    snprintf(s->hashes[i], sizeof s->hashes[i], "%s", hash);
    s->n_traces = i + 1;
  }
  return 0;
}

static int cmd_run(int argc, char **argv) {
  static const struct option opts[] = {{"shard", required_argument, NULL, 's'},
                                       {"local", no_argument, NULL, 'l'},
                                       {"db", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *db = NULL, *shard_arg = NULL;
  int local = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 's')
      shard_arg = optarg;
    else if (c == 'l')
      local = 1;
    else if (c == 'd')
      db = optarg;
    else if (c == 'h')
      return -1;
    else
      return cli_usage("sweep", "unknown option or missing value '%s'",
                       argv[optind - 1]);
  }
  if (optind != argc - 1) return cli_usage("sweep", "run wants one PLAN");
  if (!!local == !!shard_arg)
    return cli_usage("sweep", "run wants either --shard I or --local");
  const char *file = argv[optind];
  rd_t r = {file, ""};
  sweep_t s;
  memset(&s, 0, sizeof s);
  int rc = CLI_FAIL;
  uint64_t shard = 0;
  if (read_plan(file, &s, &r)) {
    cli_error(file, "%s", r.why);
    goto out;
  }
  if (shard_arg && (cli_parse_u64(shard_arg, &shard) || shard >= s.shards)) {
    rc = cli_usage("sweep", "bad --shard '%s': the plan has shards 0..%llu",
                   shard_arg, (unsigned long long)s.shards - 1);
    goto out;
  }
  /* A trace that changed since the plan would give runs no other shard
   * made: refuse it. */
  for (size_t i = 0; i < s.n_traces; i++) {
    uint64_t h;
    int e = trc_file_hash(s.traces[i], &h);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    if (e) {
      cli_error(s.traces[i], "%s", hk_strerror(e));
      goto out;
    }
    if (strcmp(hex, s.hashes[i])) {
      cli_error(s.traces[i], "content hash %s, but the plan says %s: the trace "
                "changed since 'hksim sweep plan'", hex, s.hashes[i]);
      goto out;
    }
  }
  char dbpath[PATH_MAX + 32], shard_txt[48], seed_txt[32], rep_txt[32];
  if (db)
    snprintf(dbpath, sizeof dbpath, "%s", db);
  else if (local)
    snprintf(dbpath, sizeof dbpath, "%s/serial.db", s.dir);
  else
    snprintf(dbpath, sizeof dbpath, "%s/shard-%llu.db", s.dir,
             (unsigned long long)shard);
  snprintf(shard_txt, sizeof shard_txt, "%llu/%llu", (unsigned long long)shard,
           (unsigned long long)s.shards);
  snprintf(rep_txt, sizeof rep_txt, "%llu", (unsigned long long)s.repeats);
  char backends[1024] = "", policies[1024] = "";
  for (size_t i = 0; i < s.n_backends; i++)
    snprintf(backends + strlen(backends), sizeof backends - strlen(backends),
             "%s%s", i ? "," : "", s.backends[i]);
  for (size_t i = 0; i < s.n_policies; i++)
    snprintf(policies + strlen(policies), sizeof policies - strlen(policies),
             "%s%s", i ? "," : "", s.policies[i]);
  rc = CLI_OK;
  for (size_t k = 0; k < s.n_seeds && rc != CLI_USAGE; k++) {
    /* One `hksim replay` per seed: each seed's matrix is split alike. */
    char *av[MAX_ITEMS * 2 + 32];
    int ac = 0;
    snprintf(seed_txt, sizeof seed_txt, "%llu", (unsigned long long)s.seeds[k]);
    av[ac++] = (char *)"replay";
    for (size_t i = 0; i < s.n_traces; i++) av[ac++] = s.traces[i];
    av[ac++] = (char *)"--db";
    av[ac++] = dbpath;
    av[ac++] = (char *)"--backend";
    av[ac++] = backends;
    av[ac++] = (char *)"--policy";
    av[ac++] = policies;
    av[ac++] = (char *)"--seed";
    av[ac++] = seed_txt;
    av[ac++] = (char *)"--repeat";
    av[ac++] = rep_txt;
    if (s.cache_dir[0]) {
      av[ac++] = (char *)"--cache-dir";
      av[ac++] = s.cache_dir;
    }
    if (!local) {
      av[ac++] = (char *)"--shard";
      av[ac++] = shard_txt;
    }
    for (size_t i = 0; i < s.n_options; i++) av[ac++] = (char *)s.options[i];
    av[ac] = NULL;
    int e = cli_cmd_replay.run(ac, av);
    if (e > rc) rc = e;
  }
out:
  sweep_release(&s);
  return rc;
}

static void help(FILE *f) {
  fprintf(f,
          "usage: hksim sweep plan SWEEP.json -o DIR\n"
          "       hksim sweep run PLAN (--shard I | --local) [--db DB]\n\n"
          "plan: reads a sweep description (JSON: traces, backends, policies,\n"
          "seeds, repeats, options, shards, cache_dir, slurm{partition, time,\n"
          "mem, cpus_per_task, account}; see docs/cluster.md) and writes into\n"
          "DIR: plan.json (traces by absolute path and content hash),\n"
          "sweep.sbatch (a Slurm job array, one task per shard, each into\n"
          "DIR/shard-$SLURM_ARRAY_TASK_ID.db), merge.sbatch (hksim merge into\n"
          "DIR/merged.db) and submit.sh (submits both, the merge after the\n"
          "array succeeded).\n\n"
          "run: makes the runs of a plan, as 'hksim replay' once per seed:\n"
          "  --shard I  the I-th shard only, into DIR/shard-I.db\n"
          "  --local    every run, on this machine, into DIR/serial.db\n"
          "  --db DB    another database\n\n"
          "exit: 0 every run done, 1 a run failed or bad input, 2 usage\n");
}

static int run(int argc, char **argv) {
  if (argc < 2) return cli_usage("sweep", "want 'plan' or 'run'");
  int rc;
  if (cli_is_help(argv[1])) {
    help(stdout);
    return CLI_OK;
  } else if (strcmp(argv[1], "plan") == 0) {
    rc = cmd_plan(argc - 1, argv + 1);
  } else if (strcmp(argv[1], "run") == 0) {
    rc = cmd_run(argc - 1, argv + 1);
  } else {
    return cli_usage("sweep", "unknown sweep command '%s'", argv[1]);
  }
  if (rc < 0) { /* --help */
    help(stdout);
    return CLI_OK;
  }
  return rc;
}

const cli_cmd_t cli_cmd_sweep = {"sweep",
                                 "plan a sweep as a Slurm job array, or run it",
                                 run};
