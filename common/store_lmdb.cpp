// LMDB back end: one environment per directory, one named database per Table.
// Every write batch is one write transaction, committed (and, unless
// LmdbOptions::fsync is off, fsynced) before write() returns.
//
// Every value is stored with a CRC-32C of its table, key and value behind
// it, checked on every read: a CRC-32 detects every error burst of up to 32
// bits, so any changed byte of a stored entry (a damaged disk, a hand-edited
// file) is found and refused instead of served. The offline verifier also
// checks the file's page structure (tools/verify/lmdb_file_check.hpp).
//
// The environment is opened with MDB_NOTLS, so read transactions are not tied
// to threads: reads may come from any thread. Reset read transactions are
// kept in a small pool and renewed, which keeps their reader slots and makes
// a read cheap.
#include <cryptopp/crc.h>
#include <lmdb.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/assert.hpp"
#include "common/store.hpp"

namespace mhr {
namespace {

constexpr std::size_t kMaxPooledReaders = 8;
constexpr std::size_t kChecksumBytes = 4;

[[noreturn]] void fail(const std::string& what, int rc) {
  throw StoreError("lmdb: " + what + ": " + mdb_strerror(rc));
}

MDB_val to_val(ByteView v) {
  MDB_val out;
  out.mv_size = v.size();
  out.mv_data = const_cast<std::uint8_t*>(v.data());
  return out;
}

ByteView to_view(const MDB_val& v) {
  return {static_cast<const std::uint8_t*>(v.mv_data), v.mv_size};
}

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

std::uint32_t entry_checksum(std::size_t table, ByteView key, ByteView value) {
  CryptoPP::CRC32C crc;
  const std::uint8_t head[3] = {static_cast<std::uint8_t>(table),
                                static_cast<std::uint8_t>(key.size() >> 8),
                                static_cast<std::uint8_t>(key.size())};
  crc.Update(head, sizeof head);
  crc.Update(key.data(), key.size());
  crc.Update(value.data(), value.size());
  std::uint8_t out[kChecksumBytes];
  crc.Final(out);
  return std::uint32_t{out[0]} | std::uint32_t{out[1]} << 8 | std::uint32_t{out[2]} << 16 |
         std::uint32_t{out[3]} << 24;
}

std::size_t table_index(Table t) {
  const auto i = static_cast<std::size_t>(t);
  if (i >= kTableCount) throw StoreError("lmdb: unknown table " + std::to_string(i));
  return i;
}

// Closes an environment unless released (used while opening).
class EnvGuard {
 public:
  explicit EnvGuard(MDB_env* env) : env_(env) {}
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;
  ~EnvGuard() {
    if (env_) mdb_env_close(env_);
  }
  MDB_env* get() const { return env_; }
  MDB_env* release() {
    MDB_env* e = env_;
    env_ = nullptr;
    return e;
  }

 private:
  MDB_env* env_;
};

// A write transaction that aborts unless committed.
class WriteTxn {
 public:
  explicit WriteTxn(MDB_env* env) {
    if (int rc = mdb_txn_begin(env, nullptr, 0, &txn_); rc != 0) {
      txn_ = nullptr;
      fail("cannot begin write transaction", rc);
    }
  }
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;
  ~WriteTxn() {
    if (txn_) mdb_txn_abort(txn_);
  }
  MDB_txn* get() const { return txn_; }
  // The transaction is freed by mdb_txn_commit whether or not it succeeds.
  int commit() {
    MDB_txn* t = txn_;
    txn_ = nullptr;
    return mdb_txn_commit(t);
  }

 private:
  MDB_txn* txn_ = nullptr;
};

// A cursor, closed on destruction (required for read-only transactions).
class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi) {
    if (int rc = mdb_cursor_open(txn, dbi, &cur_); rc != 0) {
      cur_ = nullptr;
      fail("cannot open cursor", rc);
    }
  }
  // One its transaction owns (a write group's, kept for the group): not
  // closed here.
  explicit Cursor(MDB_cursor* borrowed) : cur_(borrowed), owned_(false) {}
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() {
    if (cur_ && owned_) mdb_cursor_close(cur_);
  }
  int get(MDB_val* key, MDB_val* value, MDB_cursor_op op) {
    return mdb_cursor_get(cur_, key, value, op);
  }

 private:
  MDB_cursor* cur_ = nullptr;
  bool owned_ = true;
};

class LmdbStore final : public Store {
 public:
  LmdbStore(MDB_env* env, const std::array<MDB_dbi, kTableCount>& dbis, std::string dir)
      : env_(env), dbis_(dbis), dir_(std::move(dir)) {
    max_key_ = static_cast<std::size_t>(mdb_env_get_maxkeysize(env_));
    pool_.reserve(kMaxPooledReaders);  // so that returning a reader never allocates
  }
  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

  ~LmdbStore() override {
    if (group_txn_) mdb_txn_abort(group_txn_);  // a group never ended: its writes are lost
    for (MDB_txn* txn : pool_) mdb_txn_abort(txn);
    pool_.clear();
    for (MDB_dbi dbi : dbis_) mdb_dbi_close(env_, dbi);
    mdb_env_close(env_);
  }

  bool read(Table t, ByteView key, ValueUse use) const override {
    const MDB_dbi dbi = dbi_of(t);
    if (key.empty() || key.size() > max_key_) return false;  // cannot be stored
    ReadLease r(*this);
    MDB_val k = to_val(key);
    MDB_val v;
    const int rc = mdb_get(r.txn(), dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) fail("get from " + std::string(table_name(t)) + " in " + dir_, rc);
    use(checked(t, key, to_view(v)));
    return true;
  }

  void write(const WriteBatch& batch) override {
    // Validate first: a bad op must not even start a transaction.
    for (const WriteBatch::Op op : batch.ops()) check_key(op.table, op.key);
    if (batch.empty()) return;
    if (grouping_here()) {
      apply(group_txn_, batch);
      return;
    }
    WriteTxn txn(env_);
    apply(txn.get(), batch);
    if (int rc = txn.commit(); rc != 0)
      fail("commit of a batch of " + std::to_string(batch.size()) + " ops in " + dir_, rc);
  }

  void begin_group() override {
    MHR_ASSERT_MSG(group_txn_ == nullptr, "a write group is already open");
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &group_txn_); rc != 0) {
      group_txn_ = nullptr;
      fail("cannot begin write transaction in " + dir_, rc);
    }
    group_thread_ = std::this_thread::get_id();
    group_cursors_.fill(nullptr);
  }

  void end_group() override {
    MHR_ASSERT_MSG(grouping_here(), "end_group without begin_group on this thread");
    MDB_txn* txn = group_txn_;
    group_txn_ = nullptr;
    group_cursors_.fill(nullptr);  // the commit frees them
    if (int rc = mdb_txn_commit(txn); rc != 0) fail("commit of a write group in " + dir_, rc);
  }

 private:
  void apply(MDB_txn* txn, const WriteBatch& batch) {
    std::size_t n = 0;
    for (const WriteBatch::Op op : batch.ops()) {
      if (op.is_put) {
        MDB_val k = to_val(op.key);
        MDB_val v{op.value.size() + kChecksumBytes, nullptr};
        if (int rc = mdb_put(txn, dbi_of(op.table), &k, &v, MDB_RESERVE); rc != 0)
          fail(op_context("put", op.table, n, batch.size()), rc);
        auto* out = static_cast<std::uint8_t*>(v.mv_data);
        if (!op.value.empty()) std::memcpy(out, op.value.data(), op.value.size());
        const std::uint32_t crc = entry_checksum(table_index(op.table), op.key, op.value);
        for (std::size_t i = 0; i < kChecksumBytes; ++i)
          out[op.value.size() + i] = static_cast<std::uint8_t>(crc >> (8 * i));
      } else {
        MDB_val k = to_val(op.key);
        const int rc = mdb_del(txn, dbi_of(op.table), &k, nullptr);
        if (rc != 0 && rc != MDB_NOTFOUND)
          fail(op_context("delete", op.table, n, batch.size()), rc);
      }
      ++n;
    }
  }

 public:
  void scan(Table t, ByteView begin, ByteView end, const Visitor& visit) const override {
    const MDB_dbi dbi = dbi_of(t);
    ReadLease r(*this);
    Cursor cur(r.txn(), dbi);  // declared after the lease: closed before it is reset
    MDB_val k;
    MDB_val v;
    int rc;
    if (begin.empty()) {
      rc = cur.get(&k, &v, MDB_FIRST);
    } else {
      // LMDB cannot seek to a key longer than its maximum; seeking to the
      // truncated key lands at most one entry early, skipped below.
      k = to_val(begin.size() > max_key_ ? begin.first(max_key_) : begin);
      rc = cur.get(&k, &v, MDB_SET_RANGE);
    }
    while (rc == 0) {
      const ByteView key = to_view(k);
      if (compare_bytes(key, begin) >= 0) {
        if (!end.empty() && compare_bytes(key, end) >= 0) return;
        if (!visit(key, checked(t, key, to_view(v)))) return;
      }
      rc = cur.get(&k, &v, MDB_NEXT);
    }
    if (rc != MDB_NOTFOUND) fail("scan of " + std::string(table_name(t)) + " in " + dir_, rc);
  }

  bool read_last_with_prefix(Table t, ByteView prefix, EntryUse use) const override {
    if (prefix.size() > max_key_) return false;  // no stored key is that long
    return with_prefix_successor(prefix,
                                 [&](ByteView succ) { return last_below(t, prefix, succ, use); });
  }

  std::uint64_t size_bytes() const override {
    ReadLease r(*this);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < kTableCount; ++i) {
      MDB_stat st;
      if (int rc = mdb_stat(r.txn(), dbis_[i], &st); rc != 0) fail("stat of " + dir_, rc);
      total +=
          static_cast<std::uint64_t>(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
          st.ms_psize;
    }
    return total;
  }

 private:
  // A transaction to read in for one call: the open group's, on the thread
  // that groups (so it reads its own writes), else a read-only one
  // borrowed from the pool.
  class ReadLease {
   public:
    explicit ReadLease(const LmdbStore& s)
        : store_(s), group_(s.grouping_here()), txn_(group_ ? s.group_txn_ : s.acquire_read()) {}
    ReadLease(const ReadLease&) = delete;
    ReadLease& operator=(const ReadLease&) = delete;
    ~ReadLease() {
      if (!group_) store_.release_read(txn_);
    }
    MDB_txn* txn() const { return txn_; }
    bool in_group() const { return group_; }

   private:
    const LmdbStore& store_;
    bool group_;
    MDB_txn* txn_;
  };

  // last_below()'s cursor. In a write group, one per table for the whole
  // group, because LMDB allocates every cursor it opens and a record node
  // looks up a chain tip for every record; LMDB frees them with the group's
  // transaction. Safe to share: last_below() positions it afresh each time
  // and does not use it after lending the entry.
  Cursor last_cursor(const ReadLease& r, Table t) const {
    if (!r.in_group()) return Cursor(r.txn(), dbi_of(t));
    MDB_cursor*& cached = group_cursors_[table_index(t)];
    if (cached == nullptr) {
      if (int rc = mdb_cursor_open(r.txn(), dbi_of(t), &cached); rc != 0) {
        cached = nullptr;
        fail("cannot open cursor", rc);
      }
    }
    return Cursor(cached);
  }

  // The entry with the greatest key below `succ` (no bound when empty), if
  // it starts with `prefix`.
  bool last_below(Table t, ByteView prefix, ByteView succ, EntryUse use) const {
    ReadLease r(*this);
    Cursor cur = last_cursor(r, t);
    MDB_val k;
    MDB_val v;
    int rc;
    if (succ.empty()) {
      rc = cur.get(&k, &v, MDB_LAST);
    } else {
      k = to_val(succ);
      rc = cur.get(&k, &v, MDB_SET_RANGE);
      if (rc == 0)
        rc = cur.get(&k, &v, MDB_PREV);
      else if (rc == MDB_NOTFOUND)
        rc = cur.get(&k, &v, MDB_LAST);
    }
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) fail("last_with_prefix in " + std::string(table_name(t)) + " in " + dir_, rc);
    const ByteView key = to_view(k);
    if (!starts_with(key, prefix)) return false;
    use(key, checked(t, key, to_view(v)));
    return true;
  }

  bool grouping_here() const {
    return group_txn_ != nullptr && std::this_thread::get_id() == group_thread_;
  }

  MDB_dbi dbi_of(Table t) const { return dbis_[table_index(t)]; }

  // The value without its checksum; throws if the checksum does not match.
  ByteView checked(Table t, ByteView key, ByteView stored) const {
    if (stored.size() >= kChecksumBytes) {
      const ByteView value = stored.first(stored.size() - kChecksumBytes);
      std::uint32_t crc = 0;
      for (std::size_t i = 0; i < kChecksumBytes; ++i)
        crc |= std::uint32_t{stored[value.size() + i]} << (8 * i);
      if (crc == entry_checksum(table_index(t), key, value)) return value;
    }
    throw StoreError("lmdb: damaged entry in table " + std::string(table_name(t)) + " of " + dir_ +
                     " (key " + to_hex(key) + "): its checksum does not match");
  }

  void check_key(Table t, ByteView key) const {
    table_index(t);
    if (key.empty()) throw StoreError("lmdb: empty key in table " + std::string(table_name(t)));
    if (key.size() > max_key_)
      throw StoreError("lmdb: key of " + std::to_string(key.size()) +
                       " bytes exceeds the maximum of " + std::to_string(max_key_) + " in table " +
                       std::string(table_name(t)));
  }

  std::string op_context(const char* what, Table t, std::size_t index, std::size_t count) const {
    return std::string(what) + " in " + std::string(table_name(t)) + " (op " +
           std::to_string(index + 1) + " of " + std::to_string(count) + ", batch aborted) in " +
           dir_;
  }

  MDB_txn* acquire_read() const {
    MDB_txn* txn = nullptr;
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!pool_.empty()) {
        txn = pool_.back();
        pool_.pop_back();
      }
    }
    if (txn) {
      if (int rc = mdb_txn_renew(txn); rc != 0) {
        mdb_txn_abort(txn);
        fail("cannot renew read transaction in " + dir_, rc);
      }
      return txn;
    }
    if (int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != 0)
      fail("cannot begin read transaction in " + dir_, rc);
    return txn;
  }

  void release_read(MDB_txn* txn) const noexcept {
    mdb_txn_reset(txn);
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (pool_.size() < kMaxPooledReaders) {
        pool_.push_back(txn);  // capacity reserved: does not allocate
        return;
      }
    }
    mdb_txn_abort(txn);
  }

  MDB_env* env_;
  std::array<MDB_dbi, kTableCount> dbis_;
  std::string dir_;
  std::size_t max_key_ = 0;
  mutable std::mutex pool_mu_;
  mutable std::vector<MDB_txn*> pool_;
  MDB_txn* group_txn_ = nullptr;                                  // the open write group, if any
  mutable std::array<MDB_cursor*, kTableCount> group_cursors_{};  // its cursors (last_cursor)
  std::thread::id group_thread_;
};

}  // namespace

Result<std::unique_ptr<Store>, std::string> open_lmdb_store(const std::string& dir,
                                                            const LmdbOptions& options) {
  auto cannot = [&dir](const std::string& reason) {
    return err("lmdb: cannot open " + dir + ": " + reason);
  };

  std::error_code ec;
  if (!options.read_only) std::filesystem::create_directories(dir, ec);
  if (ec) return cannot(ec.message());
  if (!std::filesystem::is_directory(dir, ec)) return cannot("not a directory");

  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw); rc != 0) return cannot(mdb_strerror(rc));
  EnvGuard env(raw);

  if (int rc = mdb_env_set_maxdbs(env.get(), static_cast<MDB_dbi>(kTableCount)); rc != 0)
    return cannot(mdb_strerror(rc));
  if (int rc = mdb_env_set_mapsize(env.get(), static_cast<std::size_t>(options.map_size_bytes));
      rc != 0)
    return cannot(mdb_strerror(rc));
  const unsigned flags = MDB_NOTLS | (options.fsync ? 0u : static_cast<unsigned>(MDB_NOSYNC)) |
                         (options.read_only ? static_cast<unsigned>(MDB_RDONLY) : 0u);
  if (int rc = mdb_env_open(env.get(), dir.c_str(), flags, 0644); rc != 0)
    return cannot(mdb_strerror(rc));

  // Free reader slots left behind by processes that died.
  int dead = 0;
  if (int rc = mdb_reader_check(env.get(), &dead); rc != 0) return cannot(mdb_strerror(rc));

  std::array<MDB_dbi, kTableCount> dbis{};
  {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env.get(), nullptr, options.read_only ? MDB_RDONLY : 0, &txn);
        rc != 0)
      return cannot(mdb_strerror(rc));
    for (std::size_t i = 0; i < kTableCount; ++i) {
      const std::string name(table_name(static_cast<Table>(i)));
      if (int rc = mdb_dbi_open(txn, name.c_str(), options.read_only ? 0 : MDB_CREATE, &dbis[i]);
          rc != 0) {
        mdb_txn_abort(txn);
        return cannot("table " + name + ": " + mdb_strerror(rc));
      }
    }
    if (int rc = mdb_txn_commit(txn); rc != 0) return cannot(mdb_strerror(rc));
  }

  auto store = std::make_unique<LmdbStore>(env.get(), dbis, dir);
  env.release();  // now owned by the store
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace mhr
