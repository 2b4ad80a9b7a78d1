// In-memory store for the simulator: one ordered B-tree map per table. It enforces
// the same key rules as LMDB (non-empty, at most 511 bytes) so that code that
// runs in the simulator also runs on the real back end.
//
// Not thread-safe (the simulator is single-threaded). A visitor must not
// write to the store it is scanning.
#include <absl/container/btree_map.h>
#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "common/store.hpp"

namespace mhr {
namespace {

// LMDB's default maximum key size (mdb_env_get_maxkeysize).
constexpr std::size_t kMaxKeySize = 511;

int compare_bytes(ByteView a, ByteView b) {
  const std::size_t n = std::min(a.size(), b.size());
  if (n >= 8) {  // most keys differ in their first eight bytes: no memcmp call
    std::uint64_t x, y;
    std::memcpy(&x, a.data(), 8);
    std::memcpy(&y, b.data(), 8);
    if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
  }
  if (n != 0) {
    if (int c = std::memcmp(a.data(), b.data(), n); c != 0) return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// A B-tree keeps many keys per cache line: a simulation that holds the
// stores of a hundred thousand nodes is bound by cache misses, and a
// red-black tree pays one per level. Keys are std::string so that short
// ones (headers, table rows) live inline.
using Key = std::string;
ByteView view_of(const Key& k) {
  return {reinterpret_cast<const std::uint8_t*>(k.data()), k.size()};
}
Key key_of(ByteView b) {
  return Key(reinterpret_cast<const char*>(b.data()), b.size());
}

// Bytewise order that also compares keys with ByteView without copying.
struct BytewiseLess {
  using is_transparent = void;
  bool operator()(ByteView a, ByteView b) const { return compare_bytes(a, b) < 0; }
  bool operator()(const Key& a, const Key& b) const {
    return compare_bytes(view_of(a), view_of(b)) < 0;
  }
  bool operator()(const Key& a, ByteView b) const { return compare_bytes(view_of(a), b) < 0; }
  bool operator()(ByteView a, const Key& b) const { return compare_bytes(a, view_of(b)) < 0; }
};

using TableMap = absl::btree_map<Key, Bytes, BytewiseLess>;

bool starts_with(ByteView key, ByteView prefix) {
  return key.size() >= prefix.size() &&
         (prefix.empty() || std::memcmp(key.data(), prefix.data(), prefix.size()) == 0);
}

void check_key(Table t, ByteView key) {
  if (key.empty())
    throw StoreError("memory store: empty key in table " + std::string(table_name(t)));
  if (key.size() > kMaxKeySize)
    throw StoreError("memory store: key of " + std::to_string(key.size()) +
                     " bytes exceeds the maximum of " + std::to_string(kMaxKeySize) + " in table " +
                     std::string(table_name(t)));
}

std::size_t table_index(Table t) {
  const auto i = static_cast<std::size_t>(t);
  if (i >= kTableCount) throw StoreError("memory store: unknown table " + std::to_string(i));
  return i;
}

class MemoryStore final : public Store {
 public:
  std::optional<Bytes> get(Table t, ByteView key) const override {
    const TableMap& m = tables_[table_index(t)];
    auto it = m.find(key);
    if (it == m.end()) return std::nullopt;
    return it->second;
  }

  void write(const WriteBatch& batch) override {
    // Validate everything first so that a bad op leaves nothing applied.
    for (const auto& op : batch.ops()) {
      std::visit(
          [](const auto& o) {
            table_index(o.table);
            check_key(o.table, o.key);
          },
          op);
    }
    for (const auto& op : batch.ops()) {
      if (const auto* p = std::get_if<WriteBatch::Put>(&op)) {
        TableMap& m = tables_[table_index(p->table)];
        auto it = m.find(ByteView(p->key));
        if (it == m.end()) {
          m.emplace(key_of(p->key), p->value);
          size_ += p->key.size() + p->value.size();
        } else {
          size_ -= it->second.size();
          it->second = p->value;
          size_ += p->value.size();
        }
      } else {
        const auto& d = std::get<WriteBatch::Delete>(op);
        TableMap& m = tables_[table_index(d.table)];
        auto it = m.find(ByteView(d.key));
        if (it != m.end()) {
          size_ -= it->first.size() + it->second.size();
          m.erase(it);
        }
      }
    }
  }

  void scan(Table t, ByteView begin, ByteView end, const Visitor& visit) const override {
    const TableMap& m = tables_[table_index(t)];
    for (auto it = m.lower_bound(begin); it != m.end(); ++it) {
      if (!end.empty() && compare_bytes(view_of(it->first), end) >= 0) break;
      if (!visit(view_of(it->first), it->second)) break;
    }
  }

  std::optional<std::pair<Bytes, Bytes>> last_with_prefix(Table t, ByteView prefix) const override {
    const TableMap& m = tables_[table_index(t)];
    const Bytes succ = prefix_successor(prefix);
    auto it = succ.empty() ? m.end() : m.lower_bound(ByteView(succ));
    if (it == m.begin()) return std::nullopt;
    --it;
    if (!starts_with(view_of(it->first), prefix)) return std::nullopt;
    ByteView k = view_of(it->first);
    return std::make_pair(Bytes(k.begin(), k.end()), it->second);
  }

  std::uint64_t size_bytes() const override { return size_; }

 private:
  std::array<TableMap, kTableCount> tables_;
  std::uint64_t size_ = 0;
};

}  // namespace

std::unique_ptr<Store> open_memory_store() {
  return std::make_unique<MemoryStore>();
}

}  // namespace mhr
