// sites_cxx.cpp: a C++ program whose allocations all go through the C++
// library (std::make_unique, std::vector, std::string), from functions of
// namespace workload, plus a wrapper of its own (grab) that the trace must
// reveal. Attribution must name those functions, demangled, for >= 90% of
// the bytes (tests/analysis/test_sites_cli.sh). argv: N.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace workload {

struct Node {
  int key;
  char payload[40];
  std::unique_ptr<Node> next;
};

// Builds a list of n nodes through std::make_unique.
__attribute__((noinline)) std::unique_ptr<Node> make_list(int n) {
  std::unique_ptr<Node> head;
  for (int i = 0; i < n; i++) {
    auto node = std::make_unique<Node>();
    node->key = i;
    node->next = std::move(head);
    head = std::move(node);
  }
  return head;
}

// Grows vectors by push_back (std::vector's reallocation path).
__attribute__((noinline)) long fill_vectors(int n) {
  long sum = 0;
  for (int r = 0; r < n / 64 + 1; r++) {
    std::vector<long> v;
    for (int i = 0; i < 700; i++) v.push_back(i * r);
    sum += v.back();
  }
  return sum;
}

// Long strings: std::string's own allocation.
__attribute__((noinline)) size_t make_strings(int n) {
  std::vector<std::string> keep;
  keep.reserve((size_t)n / 8 + 1);
  for (int i = 0; i < n / 8; i++)
    keep.emplace_back(100 + i % 50, static_cast<char>('a' + i % 26));
  size_t total = 0;
  for (const auto &s : keep) total += s.size();
  return total;
}

// A wrapper no list knows: it forwards its caller's size unchanged, so
// the forwarding rule must find it and attribute to the three callers.
__attribute__((noinline)) void *grab(size_t n) {
  void *p = std::malloc(n);
  if (!p) std::abort();
  return p;
}

__attribute__((noinline)) void small_records(std::vector<void *> &out, int n) {
  for (int i = 0; i < n; i++) out.push_back(grab(24));
}
__attribute__((noinline)) void medium_records(std::vector<void *> &out, int n) {
  for (int i = 0; i < n; i++) out.push_back(grab(200));
}
__attribute__((noinline)) void large_records(std::vector<void *> &out, int n) {
  for (int i = 0; i < n; i++) out.push_back(grab(3000));
}

}  // namespace workload

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  auto list = workload::make_list(n);
  long s = workload::fill_vectors(n);
  size_t t = workload::make_strings(n);
  std::vector<void *> recs;
  recs.reserve(3 * 64);
  workload::small_records(recs, 64);
  workload::medium_records(recs, 64);
  workload::large_records(recs, 64);
  for (void *p : recs) std::free(p);
  std::printf("%d %ld %zu\n", list ? list->key : -1, s, t);
  // Destroy the list iteratively: the default recursive destructor would
  // overflow the stack for long lists.
  while (list) list = std::move(list->next);
  return 0;
}
