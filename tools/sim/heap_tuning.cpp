#include "tools/sim/heap_tuning.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

namespace mhr {
namespace {

// Huge pages for the heap; large buffers (a block's batch, the event heap)
// from the heap rather than from mmap, and the heap's top never given back:
// both would otherwise be faulted in again, page by page, at each reuse.
constexpr std::string_view kHugePages = "glibc.malloc.hugetlb=1";
constexpr const char* kTunables =
    "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=268435456:"
    "glibc.malloc.trim_threshold=4294967296";
static_assert(std::string_view(kTunables).starts_with(kHugePages));

bool kernel_has_transparent_huge_pages() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(in, modes);
  return modes.find("[always]") != std::string::npos ||
         modes.find("[madvise]") != std::string::npos;
}

}  // namespace

void reexec_with_huge_page_heap(char** argv) {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;  // the user's own choice
  if (const char* opt = std::getenv("MHR_SIM_HUGE_PAGES"); opt && std::string_view(opt) == "0")
    return;
  if (!kernel_has_transparent_huge_pages()) return;
  // By its real path, so that the process keeps its name (ps, top).
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return;
  path[n] = '\0';
  if (setenv("GLIBC_TUNABLES", kTunables, 1) != 0) return;
  execv(path, argv);
  unsetenv("GLIBC_TUNABLES");  // the exec failed: go on as we are
}

bool heap_on_huge_pages() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  return tunables != nullptr &&
         std::string_view(tunables).find(kHugePages) != std::string_view::npos;
}

}  // namespace mhr
