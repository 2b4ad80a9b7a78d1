// Ordered key-value storage with atomic write batches. Two back ends share
// this interface: LMDB (durable; one fsynced transaction per batch, so
// concurrent writes are group-committed) and memory (the simulator).
//
// Keys are ordered bytewise. Data lives in fixed tables; the logical index
// (records by user and sequence) and the verification index (headers, record
// hash -> position) are separate tables, i.e. separate LMDB databases.
#pragma once

#include <absl/container/inlined_vector.h>
#include <absl/functional/function_ref.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/codec.hpp"
#include "common/growable_bytes.hpp"
#include "common/result.hpp"
#include "common/store_key.hpp"
#include "common/types.hpp"

namespace mhr {

enum class Table : std::uint8_t {
  kMeta = 0,     // small facts: schema version, node identity, counters
  kRecords,      // logical index: (user, sequence) -> record
  kHeaders,      // verification index: (network, height) -> header
  kRecordIndex,  // verification index: record hash -> (network, height, leaf)
  kUsers,        // registrations and sharing tables
  kPending,      // work accepted but not yet finished (survives restarts)
  kAudit,        // audit chain entries
  kBlobs,        // off-chain content-addressed chunks
  kBlocks,       // block bodies a consensus node ordered: (network, height) -> entries
  kIndexChain,   // an index node's index chain: headers, bodies, anchors, transactions
};
inline constexpr std::size_t kTableCount = 10;
std::string_view table_name(Table t);

// A set of puts and deletes applied atomically by Store::write. Keys and
// values are copied into one buffer of the batch, kept inline while small:
// a batch of a few ops allocates nothing, a large one a few times in all.
class WriteBatch {
 public:
  // One op; key and value view the batch's buffer until the batch changes.
  struct Op {
    Table table;
    bool is_put;
    ByteView key;
    ByteView value;  // empty for a delete
  };
  class Iterator {
   public:
    Iterator(const WriteBatch& b, std::size_t i) : batch_(&b), i_(i) {}
    Op operator*() const { return batch_->op(i_); }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const Iterator& o) const { return i_ == o.i_; }

   private:
    const WriteBatch* batch_;
    std::size_t i_;
  };
  struct Ops {
    const WriteBatch& batch;
    Iterator begin() const { return {batch, 0}; }
    Iterator end() const { return {batch, batch.size()}; }
  };

  void put(Table t, ByteView key, ByteView value);
  // A put whose value `write` (a codec) writes straight into the batch,
  // `value_bytes` long as a counting pass found: no buffer of its own.
  template <class F>
  void put_written(Table t, ByteView key, std::size_t value_bytes, F&& write) {
    Writer w = Writer::into(add_space(t, true, key, value_bytes));
    write(w);
    MHR_ASSERT_MSG(w.size() == value_bytes, "a value is not the size it was counted to be");
  }
  // A put of `value`'s top-level encoding, written in place.
  template <class T>
  void put_encoded(Table t, ByteView key, const T& value) {
    put_written(t, key, encoded_size(value), [&value](Writer& w) { write_versioned(w, value); });
  }
  void del(Table t, ByteView key);
  Ops ops() const { return Ops{*this}; }
  Op op(std::size_t i) const;
  bool empty() const { return slots_.empty(); }
  std::size_t size() const { return slots_.size(); }
  void clear() {
    slots_.clear();
    bytes_.clear();
  }
  // The puts to table `t` in this batch whose keys start with `prefix`, in
  // order (what the batch will write that the store cannot show yet).
  std::vector<Op> puts_with_prefix(Table t, ByteView prefix) const;

 private:
  struct Slot {
    Table table;
    bool is_put;
    std::uint32_t key_at, key_size, value_at, value_size;
  };
  std::optional<std::size_t> offset_in_buffer(ByteView v) const;
  void add(Table t, bool is_put, ByteView key, ByteView value);
  // Adds an op on `key` and returns the space for its value; `key` may view
  // the batch itself (located before the buffer grows and moves).
  std::span<std::uint8_t> add_space(Table t, bool is_put, ByteView key, std::size_t value_bytes);
  absl::InlinedVector<Slot, 8> slots_;
  // Inline up to a record or two: a batch of one record allocates nothing.
  GrowableBytes<2048> bytes_;
};

// A store that cannot do what it must (disk full, corrupt file) throws this;
// a node cannot go on safely after it and stops.
struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Store {
 public:
  // Called for each entry in key order; return false to stop early.
  using Visitor = std::function<bool(ByteView key, ByteView value)>;

  virtual ~Store() = default;
  // Lends the value of `key` to `use` inside the store's transaction, with
  // no copy (on LMDB a view into its map), valid only during the call: the
  // hot lookups (a user's chain tip) decode from it and allocate nothing.
  // False, without calling `use`, when the key is absent.
  using ValueUse = absl::FunctionRef<void(ByteView value)>;
  virtual bool read(Table t, ByteView key, ValueUse use) const = 0;
  // read() into a copy of the value.
  std::optional<Bytes> get(Table t, ByteView key) const;
  // Applies every op or none. On LMDB, durable (fsynced) when it returns.
  virtual void write(const WriteBatch& batch) = 0;
  // Entries with begin <= key < end, in order; an empty end means no bound.
  virtual void scan(Table t, ByteView begin, ByteView end, const Visitor& visit) const = 0;
  // The entry with the greatest key that starts with prefix, if any, lent
  // like read().
  using EntryUse = absl::FunctionRef<void(ByteView key, ByteView value)>;
  virtual bool read_last_with_prefix(Table t, ByteView prefix, EntryUse use) const = 0;
  // The same entry, copied.
  std::optional<std::pair<Bytes, Bytes>> last_with_prefix(Table t, ByteView prefix) const;
  // Bytes of keys and values held (for reports), approximately for LMDB.
  virtual std::uint64_t size_bytes() const = 0;

  // Group commit: the writes this thread makes from begin_group() to
  // end_group() go into one transaction, which this thread's reads see at
  // once and which is durable (one fsync) when end_group() returns. Whoever
  // groups must hold back everything that depends on those writes (the
  // runtime holds back every message and reply) until then. A no-op where
  // writes cost nothing (the memory store).
  virtual void begin_group() {}
  virtual void end_group() {}

  void scan_prefix(Table t, ByteView prefix, const Visitor& visit) const;
};

std::unique_ptr<Store> open_memory_store();

struct LmdbOptions {
  std::uint64_t map_size_bytes = 64ull << 30;  // virtual reservation, not disk use
  bool fsync = true;                           // off only for throw-away stores
  // Opens an existing store without writing anything (mhr verify): no
  // directory or table is created, and writes fail.
  bool read_only = false;
};
// Opens or creates an LMDB environment in directory `dir` (created if
// missing). Errors name the directory and LMDB's reason.
Result<std::unique_ptr<Store>, std::string> open_lmdb_store(const std::string& dir,
                                                            const LmdbOptions& options = {});

// The smallest key greater than every key with this prefix; empty when the
// prefix is all 0xFF (no bound).
Bytes prefix_successor(ByteView prefix);
// The same on the stack, for prefixes of up to StoreKey::kMaxBytes.
StoreKey prefix_successor_key(ByteView prefix);
// Calls f(ByteView successor), the successor built on the stack when the
// prefix is short enough (every hot look-up's is).
template <class F>
decltype(auto) with_prefix_successor(ByteView prefix, F&& f) {
  if (prefix.size() <= StoreKey::kMaxBytes) return f(prefix_successor_key(prefix).view());
  const Bytes succ = prefix_successor(prefix);
  return f(ByteView(succ));
}

}  // namespace mhr
