// A structural check of an LMDB data file (data.mdb) that reads the file
// itself, never through LMDB: LMDB trusts its file, so a damaged page (a
// node size or offset changed) could make it read past a page or the file
// and crash. Every page reachable from the newer meta page is checked
// (header, node bounds, key order within the ranges its parents give,
// overflow runs, per-tree counts), the free list must name only pages no
// tree uses, and every page must be either in use or free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mhr {

struct LmdbFileReport {
  std::optional<std::string> problem;  // the first one found; nothing: sound
  std::uint64_t pages = 0;             // pages up to the last one in use
  std::uint64_t free_pages = 0;
  std::uint64_t entries = 0;  // leaf entries in the named tables
};

// Checks `dir`/data.mdb. The file must not be written to meanwhile. The
// named tables must be exactly `tables` (a changed name is a lost table).
LmdbFileReport check_lmdb_file(const std::string& dir, const std::vector<std::string>& tables);
// The same with the store's own tables (common/store.hpp).
LmdbFileReport check_lmdb_store_file(const std::string& dir);

}  // namespace mhr
