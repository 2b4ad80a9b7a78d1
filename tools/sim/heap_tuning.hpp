// The simulator's heap on transparent huge pages. A large simulation holds
// 7-10 GB of small objects touched at random (every node's store and role
// state), so its events spend their time on TLB and cache misses; on 2 MB
// pages instead of 4 KB ones the full scale-100k run takes about a sixth
// less time (docs/BENCHMARKS.md, session 14). glibc sets this up only at
// process start (GLIBC_TUNABLES), so `mhr sim` runs itself once more with
// it set.
#pragma once

namespace mhr {

// Re-executes this program with the heap tunables set, unless they are set
// already, the kernel has no transparent huge pages, or MHR_SIM_HUGE_PAGES=0.
// Returns only when it does not re-execute (or the exec fails).
void reexec_with_huge_page_heap(char** argv);

// Whether this process's heap is on huge pages (run_info.json says so:
// timings depend on it).
bool heap_on_huge_pages();

}  // namespace mhr
