#include "tools/verify/lmdb_file_check.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <span>
#include <vector>

#include "common/store.hpp"

namespace mhr {

namespace {

// LMDB 0.9's file format on 64-bit machines (lmdb's mdb.c): page header,
// node header and meta page layout, flags and magic.
constexpr std::size_t kPageHeader = 16;  // pgno u64, pad u16, flags u16, lower u16, upper u16
constexpr std::size_t kNodeHeader = 8;   // lo u16, hi u16, flags u16, ksize u16
constexpr std::uint16_t kBranchPage = 0x01;
constexpr std::uint16_t kLeafPage = 0x02;
constexpr std::uint16_t kOverflowPage = 0x04;
constexpr std::uint16_t kMetaPage = 0x08;
constexpr std::uint16_t kBigData = 0x01;
constexpr std::uint16_t kSubData = 0x02;
constexpr std::uint16_t kIntegerKey = 0x08;
constexpr std::uint32_t kMagic = 0xBEEFC0DE;
constexpr std::uint32_t kDataVersion = 1;
constexpr std::uint64_t kNoPage = ~std::uint64_t{0};
constexpr std::size_t kDbRecordBytes = 48;
constexpr std::size_t kMetaBytes = 136;  // magic .. txnid
constexpr unsigned kMaxDepth = 32;

using View = std::span<const std::uint8_t>;

template <class T>
T load(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

struct DbRecord {
  std::uint16_t flags = 0;
  std::uint16_t depth = 0;
  std::uint64_t branch_pages = 0, leaf_pages = 0, overflow_pages = 0, entries = 0;
  std::uint64_t root = kNoPage;
};

DbRecord read_db(const std::uint8_t* p) {
  DbRecord d;
  d.flags = load<std::uint16_t>(p + 4);
  d.depth = load<std::uint16_t>(p + 6);
  d.branch_pages = load<std::uint64_t>(p + 8);
  d.leaf_pages = load<std::uint64_t>(p + 16);
  d.overflow_pages = load<std::uint64_t>(p + 24);
  d.entries = load<std::uint64_t>(p + 32);
  d.root = load<std::uint64_t>(p + 40);
  return d;
}

struct Meta {
  std::uint32_t psize = 0;
  DbRecord free_db, main_db;
  std::uint64_t last_page = 0, txnid = 0;
};

int compare_keys(View a, View b, bool integer) {
  if (integer) {
    const std::uint64_t x = load<std::uint64_t>(a.data()), y = load<std::uint64_t>(b.data());
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  const std::size_t n = std::min(a.size(), b.size());
  if (n != 0)
    if (int c = std::memcmp(a.data(), b.data(), n); c != 0) return c;
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

struct Counts {
  std::uint64_t branch = 0, leaf = 0, overflow = 0, entries = 0;
};

// A key bound: none, or a key.
struct Bound {
  bool set = false;
  View key;
};

class FileCheck {
 public:
  FileCheck(const std::uint8_t* data, std::size_t size, const std::vector<std::string>& tables)
      : data_(data), size_(size), expected_tables_(tables) {}

  LmdbFileReport run() {
    LmdbFileReport report;
    check(report);
    report.problem = problem_;
    return report;
  }

 private:
  using LeafVisitor = std::function<bool(View key, View value, std::uint16_t flags)>;

  bool fail(const std::string& what) {
    if (!problem_) problem_ = "data.mdb: " + what;
    return false;
  }

  std::optional<Meta> read_meta(std::uint64_t index, std::uint32_t psize) {
    const std::uint64_t at = index * psize;
    const std::string name = "meta page " + std::to_string(index);
    if (at + kPageHeader + kMetaBytes > size_)
      return fail("file too short for " + name), std::nullopt;
    const std::uint8_t* p = data_ + at;
    if (load<std::uint64_t>(p) != index)
      return fail(name + " has a wrong page number"), std::nullopt;
    if (load<std::uint16_t>(p + 10) != kMetaPage)
      return fail(name + " is not marked as a meta page"), std::nullopt;
    const std::uint8_t* m = p + kPageHeader;
    if (load<std::uint32_t>(m) != kMagic)
      return fail(name + " has a wrong magic number"), std::nullopt;
    if (load<std::uint32_t>(m + 4) != kDataVersion)
      return fail(name + " has an unknown format version"), std::nullopt;
    // The store never opens with MDB_FIXEDMAP, so LMDB leaves the map address
    // zero; any other value is a changed byte (mdb_dump reports it).
    if (load<std::uint64_t>(m + 8) != 0)
      return fail(name + " names a fixed map address, which the store never uses"), std::nullopt;
    Meta meta;
    meta.free_db = read_db(m + 24);
    meta.main_db = read_db(m + 24 + kDbRecordBytes);
    meta.psize = load<std::uint32_t>(m + 24);
    meta.last_page = load<std::uint64_t>(m + 120);
    meta.txnid = load<std::uint64_t>(m + 128);
    const std::uint64_t mapsize = load<std::uint64_t>(m + 16);
    if (meta.psize != psize) return fail(name + " has another page size"), std::nullopt;
    if (meta.free_db.flags != kIntegerKey)
      return fail(name + ": free list flags changed"), std::nullopt;
    if (meta.main_db.flags != 0) return fail(name + ": main table flags changed"), std::nullopt;
    if (meta.last_page < 1 || (meta.last_page + 1) > mapsize / psize)
      return fail(name + ": last page " + std::to_string(meta.last_page) + " outside the map size"),
             std::nullopt;
    return meta;
  }

  void check(LmdbFileReport& report) {
    if (size_ < kPageHeader + kMetaBytes) {
      fail("file too short to be an LMDB file (" + std::to_string(size_) + " bytes)");
      return;
    }
    const std::uint32_t psize = load<std::uint32_t>(data_ + kPageHeader + 24);
    if (psize < 512 || psize > 65536 || (psize & (psize - 1)) != 0) {
      fail("meta page 0 has an invalid page size " + std::to_string(psize));
      return;
    }
    psize_ = psize;
    auto m0 = read_meta(0, psize);
    if (!m0) return;
    auto m1 = read_meta(1, psize);
    if (!m1) return;
    // LMDB writes transaction t's meta to page t % 2 and reads the newer.
    for (const auto& [m, i] : {std::pair{&*m0, 0u}, std::pair{&*m1, 1u}})
      if (m->txnid % 2 != i && m->txnid != 0)
        fail("meta page " + std::to_string(i) + " holds transaction " + std::to_string(m->txnid) +
             ", which belongs on the other meta page");
    const std::uint64_t gap = m0->txnid > m1->txnid ? m0->txnid - m1->txnid : m1->txnid - m0->txnid;
    if (gap > 1)
      fail("the meta pages hold transactions " + std::to_string(m0->txnid) + " and " +
           std::to_string(m1->txnid) + ", not consecutive ones");
    if (problem_) return;
    const Meta& meta = m0->txnid < m1->txnid ? *m1 : *m0;
    last_page_ = meta.last_page;
    // The file may end before the last page the meta names: LMDB does not
    // write a page freed in the transaction that allocated it (a "loose"
    // page), and such a page can be the last. Pages past the end must be
    // free, so every page a tree or an overflow value uses must be in the
    // file (claim); a cleanly stopped edge_node was refused as damaged.
    file_pages_ = size_ / psize_;
    report.pages = last_page_ + 1;
    used_.assign(last_page_ + 1, 0);
    used_[0] = used_[1] = 1;

    // The main table holds the named tables.
    std::vector<std::pair<std::string, DbRecord>> tables;
    if (!walk_tree("main table", meta.main_db, false, [&](View key, View value, std::uint16_t f) {
          if (!(f & kSubData) || value.size() != kDbRecordBytes)
            return fail("main table holds an entry that is not a table");
          tables.emplace_back(std::string(key.begin(), key.end()), read_db(value.data()));
          return true;
        }))
      return;
    std::vector<std::string> names;
    for (const auto& t : tables) names.push_back(t.first);
    std::vector<std::string> expected = expected_tables_;
    std::sort(expected.begin(), expected.end());
    if (names != expected) {  // the main table's keys are in order
      std::string found;
      for (const auto& n : names) found += (found.empty() ? "" : ", ") + to_printable(n);
      return (void)fail("the file's tables are not the store's (found: " + found + ")");
    }
    for (const auto& [name, db] : tables) {
      if (db.flags != 0) return (void)fail("table " + name + " has unexpected flags");
      if (!walk_tree("table " + name, db, false, [&](View, View, std::uint16_t f) {
            if (f & ~kBigData) return fail("table " + name + " holds a node with unknown flags");
            return true;
          }))
        return;
      report.entries += db.entries;
    }

    // The free list: transaction id -> pages freed then (a count, then ids).
    std::vector<std::uint64_t> free_pages;
    if (!walk_tree("free list", meta.free_db, true, [&](View key, View value, std::uint16_t f) {
          if (key.size() != 8 || (f & kSubData)) return fail("free list entry is malformed");
          if (value.size() < 8 || value.size() % 8 != 0)
            return fail("free list entry is malformed");
          const std::uint64_t n = load<std::uint64_t>(value.data());
          if (n != value.size() / 8 - 1)
            return fail("free list entry's count does not match its size");
          for (std::uint64_t i = 1; i <= n; ++i)
            free_pages.push_back(load<std::uint64_t>(value.data() + 8 * i));
          return true;
        }))
      return;
    for (std::uint64_t p : free_pages) {
      if (p < 2 || p > last_page_)
        return (void)fail("free list names page " + std::to_string(p) + ", outside the file");
      if (used_[p] == 1)
        return (void)fail("free list names page " + std::to_string(p) + ", which is in use");
      if (used_[p] == 2) return (void)fail("free list names page " + std::to_string(p) + " twice");
      used_[p] = 2;
    }
    report.free_pages = free_pages.size();
    for (std::uint64_t p = 2; p <= last_page_; ++p)
      if (used_[p] == 0)
        return (void)fail("page " + std::to_string(p) + " is neither in use nor free");
  }

  // Walks a whole tree, checks its counts against its record.
  bool walk_tree(const std::string& tree, const DbRecord& db, bool integer_keys,
                 const LeafVisitor& leaf) {
    if (db.root == kNoPage) {
      if (db.depth != 0 || db.entries != 0 || db.branch_pages != 0 || db.leaf_pages != 0 ||
          db.overflow_pages != 0)
        return fail(tree + " is empty but its record says otherwise");
      return true;
    }
    if (db.depth == 0 || db.depth > kMaxDepth) return fail(tree + " has an invalid depth");
    Counts c;
    tree_ = &tree;
    if (!walk(db.root, db.depth, integer_keys, {}, {}, c, leaf)) return false;
    if (c.branch != db.branch_pages || c.leaf != db.leaf_pages || c.overflow != db.overflow_pages ||
        c.entries != db.entries)
      return fail(tree + ": its pages or entries do not match its record (" +
                  std::to_string(c.entries) + " entries found, " + std::to_string(db.entries) +
                  " recorded)");
    return true;
  }

  bool claim(std::uint64_t pgno) {
    const std::string where = *tree_ + ": page " + std::to_string(pgno);
    if (pgno < 2 || pgno > last_page_ || pgno >= file_pages_)
      return fail(where + " is outside the file");
    if (used_[pgno]) return fail(where + " is used twice");
    used_[pgno] = 1;
    return true;
  }

  bool walk(std::uint64_t pgno, unsigned levels, bool integer_keys, Bound lo, Bound hi, Counts& c,
            const LeafVisitor& leaf) {
    if (!claim(pgno)) return false;
    const std::string where = *tree_ + ": page " + std::to_string(pgno);
    const std::uint8_t* page = data_ + pgno * psize_;
    const std::uint16_t flags = load<std::uint16_t>(page + 10);
    const std::uint16_t lower = load<std::uint16_t>(page + 12);
    const std::uint16_t upper = load<std::uint16_t>(page + 14);
    const bool is_leaf = levels == 1;
    if (load<std::uint64_t>(page) != pgno) return fail(where + " has a wrong page number");
    if (flags != (is_leaf ? kLeafPage : kBranchPage))
      return fail(where + " is not the " + (is_leaf ? "leaf" : "branch") + " page expected");
    if (lower < kPageHeader || lower % 2 != 0 || upper > psize_ || lower > upper)
      return fail(where + " has invalid free space bounds");
    const std::size_t n = (lower - kPageHeader) / 2;
    if (n == 0 || (!is_leaf && n < 2)) return fail(where + " holds too few nodes");
    is_leaf ? ++c.leaf : ++c.branch;

    // Nodes lie between upper and the page end, each within it, none overlapping.
    struct Node {
      std::size_t at, end;
    };
    std::vector<Node> nodes(n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = load<std::uint16_t>(page + kPageHeader + 2 * i);
      if (at < upper || at % 2 != 0 || at + kNodeHeader > psize_)
        return fail(where + ": node " + std::to_string(i) + " lies outside the page's nodes");
      const std::uint8_t* node = page + at;
      const std::size_t ksize = load<std::uint16_t>(node + 6);
      const std::uint16_t nflags = load<std::uint16_t>(node + 4);
      std::size_t end = at + kNodeHeader + ksize;
      if (is_leaf)
        end += (nflags & kBigData)
                   ? 8
                   : (load<std::uint16_t>(node) | std::size_t{load<std::uint16_t>(node + 2)} << 16);
      if (end > psize_)
        return fail(where + ": node " + std::to_string(i) + " extends past the page");
      nodes[i] = {at, end};
    }
    std::vector<Node> sorted = nodes;
    std::sort(sorted.begin(), sorted.end(), [](Node a, Node b) { return a.at < b.at; });
    for (std::size_t i = 1; i < sorted.size(); ++i)
      if (sorted[i].at < sorted[i - 1].end) return fail(where + ": nodes overlap");

    auto key_of = [&](std::size_t i) {
      const std::uint8_t* node = page + nodes[i].at;
      return View(node + kNodeHeader, load<std::uint16_t>(node + 6));
    };
    // Keys rise strictly and stay within [lo, hi); a branch's first key is unused.
    std::optional<View> prev;
    for (std::size_t i = is_leaf ? 0 : 1; i < n; ++i) {
      const View k = key_of(i);
      if (integer_keys && k.size() != 8) return fail(where + ": a key has a wrong size");
      if ((prev && compare_keys(*prev, k, integer_keys) >= 0) ||
          (lo.set && compare_keys(k, lo.key, integer_keys) < 0) ||
          (hi.set && compare_keys(k, hi.key, integer_keys) >= 0))
        return fail(where + ": key " + std::to_string(i) + " is out of order");
      prev = k;
    }

    for (std::size_t i = 0; i < n; ++i) {
      const std::uint8_t* node = page + nodes[i].at;
      const std::uint16_t nflags = load<std::uint16_t>(node + 4);
      const std::size_t ksize = load<std::uint16_t>(node + 6);
      if (!is_leaf) {
        const std::uint64_t child = load<std::uint16_t>(node) |
                                    std::uint64_t{load<std::uint16_t>(node + 2)} << 16 |
                                    std::uint64_t{nflags} << 32;
        const Bound child_lo = i == 0 ? lo : Bound{true, key_of(i)};
        const Bound child_hi = i + 1 == n ? hi : Bound{true, key_of(i + 1)};
        if (!walk(child, levels - 1, integer_keys, child_lo, child_hi, c, leaf)) return false;
        continue;
      }
      ++c.entries;
      const std::size_t dsize =
          load<std::uint16_t>(node) | std::size_t{load<std::uint16_t>(node + 2)} << 16;
      const View key(node + kNodeHeader, ksize);
      if (!(nflags & kBigData)) {
        if (!leaf(key, View(node + kNodeHeader + ksize, dsize), nflags)) return false;
        continue;
      }
      const std::uint64_t first = load<std::uint64_t>(node + kNodeHeader + ksize);
      auto value = overflow(first, dsize, c);
      if (!value) return false;
      if (!leaf(key, *value, nflags)) return false;
    }
    return true;
  }

  // A value kept on a run of overflow pages.
  std::optional<View> overflow(std::uint64_t first, std::size_t dsize, Counts& c) {
    const std::string where = *tree_ + ": overflow page " + std::to_string(first);
    if (first < 2 || first > last_page_ || first >= file_pages_)
      return fail(where + " is outside the file"), std::nullopt;
    const std::uint8_t* page = data_ + first * psize_;
    const std::uint32_t pages = load<std::uint32_t>(page + 12);
    if (load<std::uint64_t>(page) != first || load<std::uint16_t>(page + 10) != kOverflowPage)
      return fail(where + " is not an overflow page"), std::nullopt;
    if (pages == 0 || pages > last_page_ + 1 - first || first + pages > file_pages_ ||
        dsize > std::uint64_t{pages} * psize_ - kPageHeader)
      return fail(where + " has a wrong page count"), std::nullopt;
    for (std::uint64_t p = first; p < first + pages; ++p)
      if (!claim(p)) return std::nullopt;
    c.overflow += pages;
    return View(page + kPageHeader, dsize);
  }

  static std::string to_printable(const std::string& s) {
    std::string out;
    for (char c : s) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out;
  }

  const std::uint8_t* data_;
  std::size_t size_;
  std::vector<std::string> expected_tables_;
  std::uint32_t psize_ = 0;
  std::uint64_t last_page_ = 0;
  std::uint64_t file_pages_ = 0;    // whole pages in the file; the rest are free
  std::vector<std::uint8_t> used_;  // 0 unaccounted, 1 in use, 2 free
  const std::string* tree_ = nullptr;
  std::optional<std::string> problem_;
};

}  // namespace

LmdbFileReport check_lmdb_store_file(const std::string& dir) {
  std::vector<std::string> tables;
  for (std::size_t i = 0; i < kTableCount; ++i)
    tables.emplace_back(table_name(static_cast<Table>(i)));
  return check_lmdb_file(dir, tables);
}

LmdbFileReport check_lmdb_file(const std::string& dir, const std::vector<std::string>& tables) {
  LmdbFileReport report;
  const std::string path = dir + "/data.mdb";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    report.problem = "cannot open " + path + ": " + std::strerror(errno);
    return report;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    ::close(fd);
    report.problem = path + " is empty or unreadable";
    return report;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    report.problem = "cannot map " + path + ": " + std::strerror(errno);
    return report;
  }
  report = FileCheck(static_cast<const std::uint8_t*>(map), size, tables).run();
  ::munmap(map, size);
  return report;
}

}  // namespace mhr
