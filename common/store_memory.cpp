// In-memory store for the simulator: one ordered B-tree per table. It enforces
// the same key rules as LMDB (non-empty, at most 511 bytes) so that code that
// runs in the simulator also runs on the real back end.
//
// A simulation holds the stores of a hundred thousand nodes, and most of what
// they hold is the same bytes many times over: every member of a network
// stores the same headers, every index node the same rows of the
// inter-network table. So an entry (key and value in one block) is immutable
// and reference-counted, and a small per-thread cache of recently written
// entries lets a store that writes bytes equal to an entry written moments
// ago by another store share that entry. What a store shows is unchanged:
// get() copies, scan() lends views, size_bytes() counts every store's own
// logical bytes.
//
// Lookups are bound by cache misses, so a B-tree slot carries the key's
// first 16 bytes as two integers and the key's length: most comparisons
// never leave the slot.
//
// Many tables are never asked an ordered question while a node runs (an
// index node's inter-network table, 200,000 rows, is scanned only when the
// node starts; a member's headers are read by height): a table keeps its
// entries in a hash set until the first ordered question about it while
// it is not empty, and in the B-tree from then on. A hashed insert costs
// two or three cache misses where a B-tree's costs five, and a third of
// the memory. No result depends on which one holds a table.
//
// Not thread-safe (the simulator is single-threaded), reads included: an
// ordered read may reorganise a table. A visitor must not write to the
// store it is scanning.
#include <absl/container/btree_set.h>
#include <absl/container/flat_hash_set.h>
#include <absl/hash/hash.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "common/assert.hpp"
#include "common/store.hpp"

namespace mhr {
namespace {

// LMDB's default maximum key size (mdb_env_get_maxkeysize).
constexpr std::size_t kMaxKeySize = 511;

// ---- entries ---------------------------------------------------------------

// Key and value bytes in one allocation, shared by every store (and the
// sharing cache) that holds them. Never changed once made.
struct Entry {
  std::atomic<std::uint32_t> refs;
  std::uint32_t key_size;
  std::uint32_t value_size;

  std::uint8_t* bytes() { return reinterpret_cast<std::uint8_t*>(this + 1); }
  const std::uint8_t* bytes() const { return reinterpret_cast<const std::uint8_t*>(this + 1); }
  ByteView key() const { return {bytes(), key_size}; }
  ByteView value() const { return {bytes() + key_size, value_size}; }
};

Entry* make_entry(ByteView key, ByteView value) {
  void* p = std::malloc(sizeof(Entry) + key.size() + value.size());
  if (p == nullptr) throw std::bad_alloc();
  auto* e = new (p)
      Entry{{1}, static_cast<std::uint32_t>(key.size()), static_cast<std::uint32_t>(value.size())};
  if (!key.empty()) std::memcpy(e->bytes(), key.data(), key.size());
  if (!value.empty()) std::memcpy(e->bytes() + key.size(), value.data(), value.size());
  return e;
}

void retain(Entry* e) {
  e->refs.fetch_add(1, std::memory_order_relaxed);
}

void release(Entry* e) {
  if (e->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    e->~Entry();
    std::free(e);
  }
}

bool same_bytes(ByteView a, ByteView b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// Recently written entries by (table, key), so that equal bytes written by
// another store soon after are shared rather than copied. Direct-mapped:
// a newer entry simply takes the place of an older one. Per thread, so
// stores used by different threads never share an entry through it.
class SharingCache {
 public:
  static constexpr std::size_t kSlots = 1u << 16;
  // Larger entries are rarely written twice and would pin memory here.
  static constexpr std::size_t kMaxEntryBytes = 4096;

  // Tables whose rows many nodes hold alike: headers (every member), users
  // (every index node's inter-network table), records and their places
  // (every holder under full replication). Pending work, blocks, audit
  // chains and blobs are a node's own.
  static bool shared_between_nodes(Table t) {
    return t == Table::kHeaders || t == Table::kUsers || t == Table::kRecords ||
           t == Table::kRecordIndex;
  }

  SharingCache() : slots_(kSlots) {}
  ~SharingCache() {
    for (Slot& s : slots_)
      if (s.entry) release(s.entry);
  }
  SharingCache(const SharingCache&) = delete;
  SharingCache& operator=(const SharingCache&) = delete;

  // An entry holding exactly (key, value), with one reference for the caller.
  Entry* entry_for(Table t, ByteView key, ByteView value) {
    if (!shared_between_nodes(t) || key.size() + value.size() > kMaxEntryBytes)
      return make_entry(key, value);
    const std::uint64_t h = hash(t, key);
    Slot& s = slots_[h & (kSlots - 1)];
    if (s.entry && s.hash == h && same_bytes(s.entry->key(), key) &&
        same_bytes(s.entry->value(), value)) {
      retain(s.entry);
      return s.entry;
    }
    Entry* e = make_entry(key, value);
    if (s.entry) release(s.entry);
    retain(e);
    s.entry = e;
    s.hash = h;
    return e;
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    Entry* entry = nullptr;
  };

  // Eight bytes at a time (keys are short), then a final mix.
  static std::uint64_t hash(Table t, ByteView key) {
    std::uint64_t h = 0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(t) + 1) ^ key.size();
    std::size_t i = 0;
    for (; i + 8 <= key.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, key.data() + i, 8);
      h = (h ^ w) * 0xff51afd7ed558ccdull;
      h ^= h >> 32;
    }
    std::uint64_t tail = 0;
    std::memcpy(&tail, key.data() + i, key.size() - i);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
  }

  std::vector<Slot> slots_;
};

SharingCache& sharing_cache() {
  thread_local SharingCache cache;
  return cache;
}

// ---- ordering --------------------------------------------------------------

// The first 16 bytes of a key, zero-padded, as two big-endian integers:
// comparing them compares those bytes.
struct Prefix {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
};

Prefix prefix_of(ByteView key) {
  std::uint8_t buf[16] = {};
  // An empty key may have no data pointer, which memcpy must not see.
  if (!key.empty()) std::memcpy(buf, key.data(), std::min<std::size_t>(key.size(), 16));
  Prefix p;
  std::memcpy(&p.hi, buf, 8);
  std::memcpy(&p.lo, buf + 8, 8);
  p.hi = __builtin_bswap64(p.hi);
  p.lo = __builtin_bswap64(p.lo);
  return p;
}

// Bytewise order of two keys with equal zero-padded 16-byte prefixes.
int compare_tails(ByteView a, ByteView b) {
  // A key of at most 16 bytes equals the other's first bytes: the shorter
  // one is a prefix of the longer one (or both are equal).
  if (a.size() > 16 && b.size() > 16) {
    const std::size_t n = std::min(a.size(), b.size()) - 16;
    if (int c = std::memcmp(a.data() + 16, b.data() + 16, n); c != 0) return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// What a B-tree slot holds: the prefix, the key length and the entry.
struct Slot {
  Prefix prefix;
  // Replaced by an entry with the same key when the value changes, which
  // keeps the order: hence mutable inside the set.
  mutable Entry* entry;
};
static_assert(sizeof(Slot) == 24);

// A key to look up, with its prefix computed once.
struct Probe {
  explicit Probe(ByteView k) : prefix(prefix_of(k)), key(k) {}
  Prefix prefix;
  ByteView key;
};

struct SlotLess {
  using is_transparent = void;

  static bool prefix_less(const Prefix& a, const Prefix& b) {
    return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo;
  }
  static bool prefix_equal(const Prefix& a, const Prefix& b) {
    return a.hi == b.hi && a.lo == b.lo;
  }

  bool operator()(const Slot& a, const Slot& b) const {
    if (!prefix_equal(a.prefix, b.prefix)) return prefix_less(a.prefix, b.prefix);
    return compare_tails(a.entry->key(), b.entry->key()) < 0;
  }
  bool operator()(const Slot& a, const Probe& b) const {
    if (!prefix_equal(a.prefix, b.prefix)) return prefix_less(a.prefix, b.prefix);
    return compare_tails(a.entry->key(), b.key) < 0;
  }
  bool operator()(const Probe& a, const Slot& b) const {
    if (!prefix_equal(a.prefix, b.prefix)) return prefix_less(a.prefix, b.prefix);
    return compare_tails(a.key, b.entry->key()) < 0;
  }
};

bool slot_has_key(const Slot& s, const Probe& p) {
  return SlotLess::prefix_equal(s.prefix, p.prefix) && compare_tails(s.entry->key(), p.key) == 0;
}

using TableSet = absl::btree_set<Slot, SlotLess, std::allocator<Slot>>;

// Entries by key, looked up by a key or an entry alike.
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(ByteView key) const {
    return absl::Hash<std::string_view>{}(
        std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
  }
  std::size_t operator()(const Entry* e) const { return (*this)(e->key()); }
};
struct KeyEq {
  using is_transparent = void;
  static ByteView key_of(ByteView key) { return key; }
  static ByteView key_of(const Entry* e) { return e->key(); }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return same_bytes(key_of(a), key_of(b));
  }
};
using EntrySet = absl::flat_hash_set<Entry*, KeyHash, KeyEq>;

// One table: hashed until its first ordered question, then ordered.
struct TableData {
  EntrySet hashed;
  TableSet ordered;
  bool is_ordered = false;

  // Moves the entries into the B-tree, sorted first so each goes in at
  // the end.
  void make_ordered() {
    std::vector<Slot> slots;
    slots.reserve(hashed.size());
    for (Entry* e : hashed) slots.push_back(Slot{prefix_of(e->key()), e});
    std::sort(slots.begin(), slots.end(), SlotLess{});
    for (const Slot& s : slots) ordered.insert(ordered.end(), s);
    EntrySet().swap(hashed);
    is_ordered = true;
  }
};

int compare_bytes(ByteView a, ByteView b) {
  const std::size_t n = std::min(a.size(), b.size());
  if (n != 0) {
    if (int c = std::memcmp(a.data(), b.data(), n); c != 0) return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

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

bool appended_in_order(Table t) {
  return t == Table::kHeaders || t == Table::kBlocks || t == Table::kAudit;
}

class MemoryStore final : public Store {
 public:
  MemoryStore() = default;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;
  ~MemoryStore() override {
    for (TableData& t : tables_) {
      for (const Slot& s : t.ordered) release(s.entry);
      for (Entry* e : t.hashed) release(e);
    }
  }

  bool read(Table t, ByteView key, ValueUse use) const override {
    const TableData& d = tables_[table_index(t)];
    const Entry* found = nullptr;
    if (d.is_ordered) {
      auto it = d.ordered.find(Probe(key));
      if (it != d.ordered.end()) found = it->entry;
    } else {
      auto it = d.hashed.find(key);
      if (it != d.hashed.end()) found = *it;
    }
    if (found == nullptr) return false;
    use(found->value());
    return true;
  }

  void write(const WriteBatch& batch) override {
    // Validate everything first so that a bad op leaves nothing applied.
    for (const WriteBatch::Op op : batch.ops()) {
      table_index(op.table);
      check_key(op.table, op.key);
    }
    SharingCache& cache = sharing_cache();
    for (const WriteBatch::Op op : batch.ops()) {
      TableData& d = tables_[table_index(op.table)];
      if (!d.is_ordered) {
        write_hashed(d, op, cache);
        continue;
      }
      if (op.is_put) {
        TableSet& m = d.ordered;
        const Probe probe{ByteView(op.key)};
        // Headers, blocks and audit entries are appended in key order: the
        // last leaf is the place, without a walk down from the root.
        if (appended_in_order(op.table) && (m.empty() || SlotLess{}(*m.rbegin(), probe))) {
          m.insert(m.end(), Slot{probe.prefix, cache.entry_for(op.table, op.key, op.value)});
          size_ += op.key.size() + op.value.size();
          continue;
        }
        auto it = m.lower_bound(probe);
        if (it != m.end() && slot_has_key(*it, probe)) {
          Entry* old = it->entry;
          if (same_bytes(old->value(), op.value)) continue;  // rewritten as it was
          size_ -= old->value_size;
          // The new entry has the same key: the slot keeps its place.
          it->entry = cache.entry_for(op.table, op.key, op.value);
          size_ += op.value.size();
          release(old);
        } else {
          m.insert(it, Slot{probe.prefix, cache.entry_for(op.table, op.key, op.value)});
          size_ += op.key.size() + op.value.size();
        }
      } else {
        TableSet& m = d.ordered;
        auto it = m.find(Probe(ByteView(op.key)));
        if (it != m.end()) {
          Entry* old = it->entry;
          size_ -= old->key_size + old->value_size;
          m.erase(it);
          release(old);
        }
      }
    }
  }

  void scan(Table t, ByteView begin, ByteView end, const Visitor& visit) const override {
    const TableSet& m = ordered(t);
    for (auto it = m.lower_bound(Probe(begin)); it != m.end(); ++it) {
      const Entry& e = *it->entry;
      if (!end.empty() && compare_bytes(e.key(), end) >= 0) break;
      if (!visit(e.key(), e.value())) break;
    }
  }

  bool read_last_with_prefix(Table t, ByteView prefix, EntryUse use) const override {
    return with_prefix_successor(prefix,
                                 [&](ByteView succ) { return last_below(t, prefix, succ, use); });
  }

  std::uint64_t size_bytes() const override { return size_; }

 private:
  // The table in key order (an empty hashed table needs no reordering).
  const TableSet& ordered(Table t) const {
    TableData& d = tables_[table_index(t)];
    if (!d.is_ordered && !d.hashed.empty()) d.make_ordered();
    return d.ordered;
  }

  void write_hashed(TableData& d, const WriteBatch::Op& op, SharingCache& cache) {
    auto it = d.hashed.find(op.key);
    Entry* old = it == d.hashed.end() ? nullptr : *it;
    if (old != nullptr) {
      if (op.is_put && same_bytes(old->value(), op.value)) return;  // rewritten as it was
      size_ -= old->key_size + old->value_size;
      d.hashed.erase(it);
      release(old);
    }
    if (!op.is_put) return;
    d.hashed.insert(cache.entry_for(op.table, op.key, op.value));
    size_ += op.key.size() + op.value.size();
  }

  bool last_below(Table t, ByteView prefix, ByteView succ, EntryUse use) const {
    const TableSet& m = ordered(t);
    auto it = succ.empty() ? m.end() : m.lower_bound(Probe(succ));
    if (it == m.begin()) return false;
    --it;
    const Entry& e = *it->entry;
    if (!starts_with(e.key(), prefix)) return false;
    use(e.key(), e.value());
    return true;
  }

  // Mutable: an ordered read may move a table from its hash set into its
  // B-tree, which changes nothing it shows.
  mutable std::array<TableData, kTableCount> tables_;
  std::uint64_t size_ = 0;
};

}  // namespace

std::unique_ptr<Store> open_memory_store() {
  return std::make_unique<MemoryStore>();
}

}  // namespace mhr
