// Storage interface: one suite run against both back ends (memory and LMDB),
// plus LMDB-only checks (durability, open errors, large batches).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/chain_store.hpp"
#include "common/crypto.hpp"
#include "common/store.hpp"

namespace mhr {
namespace {

namespace fs = std::filesystem;

using Entries = std::vector<std::pair<Bytes, Bytes>>;

Bytes b(std::string_view s) {
  return Bytes(s.begin(), s.end());
}
Bytes raw(std::initializer_list<std::uint8_t> bytes) {
  return Bytes(bytes);
}
Bytes concat(Bytes a, const Bytes& c) {
  a.insert(a.end(), c.begin(), c.end());
  return a;
}
Bytes be32(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
          static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

// A fresh directory under the system temp directory, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    const std::uint64_t r = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    char suffix[17];
    std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(r));
    path_ = fs::temp_directory_path() / ("mhr-store-test-" + std::string(suffix));
    fs::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string str(const std::string& sub = "") const {
    return sub.empty() ? path_.string() : (path_ / sub).string();
  }

 private:
  fs::path path_;
};

std::unique_ptr<Store> must_open(const std::string& dir, const LmdbOptions& options = {}) {
  auto r = open_lmdb_store(dir, options);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  return std::move(r).value();
}

struct MemoryBackend {
  std::unique_ptr<Store> store = open_memory_store();
};

struct LmdbBackend {
  TempDir dir;
  std::unique_ptr<Store> store = must_open(dir.str("db"));
};

Entries scan_all(const Store& s, Table t, ByteView begin, ByteView end) {
  Entries out;
  s.scan(t, begin, end, [&](ByteView k, ByteView v) {
    out.emplace_back(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  });
  return out;
}

std::vector<Bytes> keys_of(const Entries& e) {
  std::vector<Bytes> out;
  for (const auto& kv : e) out.push_back(kv.first);
  return out;
}

std::vector<Bytes> scan_keys(const Store& s, Table t, const Bytes& begin, const Bytes& end) {
  return keys_of(scan_all(s, t, begin, end));
}

std::vector<Bytes> prefix_keys(const Store& s, Table t, const Bytes& prefix) {
  std::vector<Bytes> out;
  s.scan_prefix(t, prefix, [&](ByteView k, ByteView) {
    out.emplace_back(k.begin(), k.end());
    return true;
  });
  return out;
}

void put1(Store& s, Table t, const Bytes& k, const Bytes& v) {
  WriteBatch w;
  w.put(t, k, v);
  s.write(w);
}

void del1(Store& s, Table t, const Bytes& k) {
  WriteBatch w;
  w.del(t, k);
  s.write(w);
}

// Binary keys in bytewise order, with 0x00 and 0xFF bytes and prefixes.
const std::vector<Bytes>& binary_keys() {
  static const std::vector<Bytes> keys = {
      raw({0x00}),
      raw({0x00, 0x00}),
      raw({0x00, 0xFF}),
      raw({0x01}),
      raw({0x7F}),
      raw({0x80}),
      raw({0x80, 0x00}),
      raw({0xFE, 0xFF}),
      raw({0xFF}),
      raw({0xFF, 0x00}),
      raw({0xFF, 0xFF}),
      raw({0xFF, 0xFF, 0x00}),
      raw({0xFF, 0xFF, 0xFF}),
  };
  return keys;
}

void fill_binary(Store& s, Table t) {
  WriteBatch w;
  // Insert in reverse so that order comes from the store, not the batch.
  const auto& keys = binary_keys();
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) w.put(t, *it, concat(b("v"), *it));
  s.write(w);
}

// ---- The shared suite: each check runs against both back ends. ----------

void check_put_get_overwrite_delete(Store& s) {
  put1(s, Table::kRecords, b("alpha"), b("1"));
  CHECK(s.get(Table::kRecords, b("alpha")) == b("1"));

  put1(s, Table::kRecords, b("alpha"), b("two"));
  CHECK(s.get(Table::kRecords, b("alpha")) == b("two"));

  put1(s, Table::kRecords, b("empty-value"), Bytes{});
  auto ev = s.get(Table::kRecords, b("empty-value"));
  REQUIRE(ev.has_value());
  CHECK(ev->empty());

  del1(s, Table::kRecords, b("alpha"));
  CHECK_FALSE(s.get(Table::kRecords, b("alpha")).has_value());
  // Deleting an absent key is not an error.
  del1(s, Table::kRecords, b("alpha"));
  del1(s, Table::kRecords, b("never-there"));
  CHECK(s.get(Table::kRecords, b("empty-value")).has_value());
}

void check_absent_key(Store& s) {
  CHECK_FALSE(s.get(Table::kMeta, b("nothing")).has_value());
  put1(s, Table::kMeta, b("k"), b("v"));
  CHECK_FALSE(s.get(Table::kMeta, b("k0")).has_value());
  CHECK_FALSE(s.get(Table::kMeta, b("j")).has_value());
  // Keys that can never be stored read as absent rather than failing.
  CHECK_FALSE(s.get(Table::kMeta, Bytes{}).has_value());
  CHECK_FALSE(s.get(Table::kMeta, Bytes(600, 0x41)).has_value());
}

void check_tables_independent(Store& s) {
  WriteBatch w;
  w.put(Table::kRecords, b("same"), b("record"));
  w.put(Table::kHeaders, b("same"), b("header"));
  s.write(w);
  CHECK(s.get(Table::kRecords, b("same")) == b("record"));
  CHECK(s.get(Table::kHeaders, b("same")) == b("header"));
  CHECK_FALSE(s.get(Table::kRecordIndex, b("same")).has_value());
  CHECK_FALSE(s.get(Table::kMeta, b("same")).has_value());

  del1(s, Table::kRecords, b("same"));
  CHECK_FALSE(s.get(Table::kRecords, b("same")).has_value());
  CHECK(s.get(Table::kHeaders, b("same")) == b("header"));

  // Every table is usable and scans see only their own entries.
  for (std::size_t i = 0; i < kTableCount; ++i) {
    put1(s, static_cast<Table>(i), b("t"), be32(static_cast<std::uint32_t>(i)));
  }
  for (std::size_t i = 0; i < kTableCount; ++i) {
    const auto t = static_cast<Table>(i);
    CHECK(s.get(t, b("t")) == be32(static_cast<std::uint32_t>(i)));
  }
  CHECK(scan_keys(s, Table::kHeaders, {}, {}) == std::vector<Bytes>{b("same"), b("t")});
  CHECK(scan_keys(s, Table::kRecords, {}, {}) == std::vector<Bytes>{b("t")});
}

void check_batch_order(Store& s) {
  put1(s, Table::kUsers, b("gone"), b("old"));
  WriteBatch w;
  w.put(Table::kUsers, b("k"), b("first"));
  w.del(Table::kUsers, b("k"));
  w.put(Table::kUsers, b("k"), b("second"));
  w.put(Table::kUsers, b("d"), b("x"));
  w.del(Table::kUsers, b("d"));
  w.del(Table::kUsers, b("gone"));
  CHECK(w.size() == 6);
  s.write(w);
  CHECK(s.get(Table::kUsers, b("k")) == b("second"));
  CHECK_FALSE(s.get(Table::kUsers, b("d")).has_value());
  CHECK_FALSE(s.get(Table::kUsers, b("gone")).has_value());

  // An empty batch is a no-op.
  WriteBatch none;
  CHECK(none.empty());
  s.write(none);
  CHECK(s.get(Table::kUsers, b("k")) == b("second"));
}

void check_batch_atomic(Store& s) {
  put1(s, Table::kRecords, b("keep"), b("original"));
  put1(s, Table::kHeaders, b("h"), b("header"));
  const auto before = s.size_bytes();

  auto expect_untouched = [&] {
    CHECK(s.get(Table::kRecords, b("keep")) == b("original"));
    CHECK(s.get(Table::kHeaders, b("h")) == b("header"));
    CHECK_FALSE(s.get(Table::kRecords, b("new1")).has_value());
    CHECK_FALSE(s.get(Table::kRecords, b("new2")).has_value());
    CHECK_FALSE(s.get(Table::kPending, b("p")).has_value());
    CHECK(scan_keys(s, Table::kRecords, {}, {}) == std::vector<Bytes>{b("keep")});
    CHECK(s.size_bytes() == before);
  };

  SUBCASE("empty key in a put") {
    WriteBatch w;
    w.put(Table::kRecords, b("new1"), b("v"));
    w.put(Table::kRecords, b("keep"), b("changed"));
    w.del(Table::kHeaders, b("h"));
    w.put(Table::kPending, Bytes{}, b("bad"));
    w.put(Table::kRecords, b("new2"), b("v"));
    CHECK_THROWS_AS(s.write(w), StoreError);
    expect_untouched();
  }
  SUBCASE("empty key in a delete") {
    WriteBatch w;
    w.put(Table::kRecords, b("new1"), b("v"));
    w.put(Table::kPending, b("p"), b("v"));
    w.del(Table::kRecords, Bytes{});
    CHECK_THROWS_AS(s.write(w), StoreError);
    expect_untouched();
  }
  SUBCASE("key too long, last op") {
    WriteBatch w;
    w.put(Table::kRecords, b("new1"), b("v"));
    w.del(Table::kRecords, b("keep"));
    w.put(Table::kRecords, Bytes(512, 0x61), b("v"));
    CHECK_THROWS_AS(s.write(w), StoreError);
    expect_untouched();
  }
  // The store remains usable after a rejected batch.
  put1(s, Table::kRecords, b("new1"), b("later"));
  CHECK(s.get(Table::kRecords, b("new1")) == b("later"));
}

void check_key_size_limit(Store& s) {
  const Bytes longest(511, 0x5A);
  put1(s, Table::kBlobs, longest, b("ok"));
  CHECK(s.get(Table::kBlobs, longest) == b("ok"));
  CHECK(s.last_with_prefix(Table::kBlobs, longest)->first == longest);
  CHECK_THROWS_AS(put1(s, Table::kBlobs, Bytes(512, 0x5A), b("no")), StoreError);
  CHECK_THROWS_AS(del1(s, Table::kBlobs, Bytes(4096, 0x5A)), StoreError);
  CHECK_THROWS_AS(put1(s, Table::kBlobs, Bytes{}, b("no")), StoreError);
  // Bounds longer than any key are fine for reads.
  const Bytes long_bound(700, 0x5A);
  CHECK(scan_keys(s, Table::kBlobs, longest, long_bound) == std::vector<Bytes>{longest});
  CHECK(scan_keys(s, Table::kBlobs, long_bound, {}).empty());
  CHECK(scan_keys(s, Table::kBlobs, Bytes(700, 0x59), {}) == std::vector<Bytes>{longest});
  CHECK_FALSE(s.last_with_prefix(Table::kBlobs, long_bound).has_value());
  // Values may be large.
  const Bytes big(1 << 20, 0xAB);
  put1(s, Table::kBlobs, b("big"), big);
  CHECK(s.get(Table::kBlobs, b("big")) == big);
}

void check_ordered_scan(Store& s) {
  fill_binary(s, Table::kRecords);
  const auto& keys = binary_keys();

  const Entries all = scan_all(s, Table::kRecords, {}, {});
  REQUIRE(all.size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CHECK(all[i].first == keys[i]);
    CHECK(all[i].second == concat(b("v"), keys[i]));
  }

  // [begin, end) with both bounds present as keys.
  CHECK(scan_keys(s, Table::kRecords, raw({0x00, 0xFF}), raw({0x80})) ==
        std::vector<Bytes>{raw({0x00, 0xFF}), raw({0x01}), raw({0x7F})});
  // Bounds that are not keys.
  CHECK(scan_keys(s, Table::kRecords, raw({0x00, 0x01}), raw({0x7F, 0x00})) ==
        std::vector<Bytes>{raw({0x00, 0xFF}), raw({0x01}), raw({0x7F})});
  // Unbounded end from 0xFF onwards.
  CHECK(scan_keys(s, Table::kRecords, raw({0xFF}), {}) ==
        std::vector<Bytes>{raw({0xFF}), raw({0xFF, 0x00}), raw({0xFF, 0xFF}),
                           raw({0xFF, 0xFF, 0x00}), raw({0xFF, 0xFF, 0xFF})});
  // Empty begin means from the first key.
  CHECK(scan_keys(s, Table::kRecords, {}, raw({0x00, 0x01})) ==
        std::vector<Bytes>{raw({0x00}), raw({0x00, 0x00})});
  // Empty ranges.
  CHECK(scan_keys(s, Table::kRecords, raw({0x01}), raw({0x01})).empty());
  CHECK(scan_keys(s, Table::kRecords, raw({0x02}), raw({0x7F})).empty());
  CHECK(scan_keys(s, Table::kRecords, raw({0xFF, 0xFF, 0xFF, 0x00}), {}).empty());
  CHECK(scan_keys(s, Table::kRecords, raw({0x80}), raw({0x01})).empty());  // end < begin
  // Other tables are untouched by the fill.
  CHECK(scan_keys(s, Table::kHeaders, {}, {}).empty());

  // Early stop: the visitor sees exactly as many entries as it accepts.
  std::vector<Bytes> seen;
  s.scan(Table::kRecords, raw({0x01}), {}, [&](ByteView k, ByteView) {
    seen.emplace_back(k.begin(), k.end());
    return seen.size() < 3;
  });
  CHECK(seen == std::vector<Bytes>{raw({0x01}), raw({0x7F}), raw({0x80})});
  int calls = 0;
  s.scan(Table::kRecords, {}, {}, [&](ByteView, ByteView) {
    ++calls;
    return false;
  });
  CHECK(calls == 1);
}

void check_scan_prefix(Store& s) {
  fill_binary(s, Table::kAudit);
  CHECK(prefix_keys(s, Table::kAudit, raw({0x00})) ==
        std::vector<Bytes>{raw({0x00}), raw({0x00, 0x00}), raw({0x00, 0xFF})});
  CHECK(prefix_keys(s, Table::kAudit, raw({0x80})) ==
        std::vector<Bytes>{raw({0x80}), raw({0x80, 0x00})});
  CHECK(prefix_keys(s, Table::kAudit, raw({0xFF})) ==
        std::vector<Bytes>{raw({0xFF}), raw({0xFF, 0x00}), raw({0xFF, 0xFF}),
                           raw({0xFF, 0xFF, 0x00}), raw({0xFF, 0xFF, 0xFF})});
  CHECK(prefix_keys(s, Table::kAudit, raw({0xFF, 0xFF})) ==
        std::vector<Bytes>{raw({0xFF, 0xFF}), raw({0xFF, 0xFF, 0x00}), raw({0xFF, 0xFF, 0xFF})});
  CHECK(prefix_keys(s, Table::kAudit, raw({0xFE})) == std::vector<Bytes>{raw({0xFE, 0xFF})});
  CHECK(prefix_keys(s, Table::kAudit, raw({0x02})).empty());
  CHECK(prefix_keys(s, Table::kAudit, raw({0x00, 0x00, 0x00})).empty());
  CHECK(prefix_keys(s, Table::kAudit, {}).size() == binary_keys().size());

  // Records by (user, sequence): a user's prefix sees only that user.
  WriteBatch w;
  for (std::uint32_t user = 1; user <= 3; ++user)
    for (std::uint32_t seq = 0; seq < 5; ++seq)
      w.put(Table::kRecords, concat(be32(user), be32(seq)), be32(user * 100 + seq));
  s.write(w);
  const auto user2 = prefix_keys(s, Table::kRecords, be32(2));
  REQUIRE(user2.size() == 5);
  for (std::uint32_t seq = 0; seq < 5; ++seq) CHECK(user2[seq] == concat(be32(2), be32(seq)));

  // Early stop through scan_prefix.
  int calls = 0;
  s.scan_prefix(Table::kRecords, be32(1), [&](ByteView, ByteView) { return ++calls < 2; });
  CHECK(calls == 2);
}

void check_last_with_prefix(Store& s) {
  // Empty table.
  CHECK_FALSE(s.last_with_prefix(Table::kRecords, b("u")).has_value());
  CHECK_FALSE(s.last_with_prefix(Table::kRecords, {}).has_value());

  WriteBatch w;
  for (std::uint32_t user = 1; user <= 3; ++user)
    for (std::uint32_t seq = 0; seq < 4; ++seq)
      w.put(Table::kRecords, concat(be32(user), be32(seq)), be32(user * 100 + seq));
  s.write(w);

  auto last2 = s.last_with_prefix(Table::kRecords, be32(2));
  REQUIRE(last2.has_value());
  CHECK(last2->first == concat(be32(2), be32(3)));
  CHECK(last2->second == be32(203));
  // The last user: no key follows the prefix's successor.
  CHECK(s.last_with_prefix(Table::kRecords, be32(3))->first == concat(be32(3), be32(3)));
  // The first user: the entry before the successor's position.
  CHECK(s.last_with_prefix(Table::kRecords, be32(1))->first == concat(be32(1), be32(3)));
  // No match: between users, before all, after all.
  CHECK_FALSE(s.last_with_prefix(Table::kRecords, be32(0)).has_value());
  CHECK_FALSE(s.last_with_prefix(Table::kRecords, be32(4)).has_value());
  CHECK_FALSE(s.last_with_prefix(Table::kRecords, raw({0x00, 0x00, 0x00, 0x02, 0x01})).has_value());
  // A whole key as prefix.
  CHECK(s.last_with_prefix(Table::kRecords, concat(be32(2), be32(1)))->first ==
        concat(be32(2), be32(1)));
  // Empty prefix: the greatest key.
  CHECK(s.last_with_prefix(Table::kRecords, {})->first == concat(be32(3), be32(3)));

  // All-0xFF prefixes (no successor) on binary keys.
  fill_binary(s, Table::kHeaders);
  CHECK(s.last_with_prefix(Table::kHeaders, raw({0xFF}))->first == raw({0xFF, 0xFF, 0xFF}));
  CHECK(s.last_with_prefix(Table::kHeaders, raw({0xFF, 0xFF}))->first == raw({0xFF, 0xFF, 0xFF}));
  CHECK(s.last_with_prefix(Table::kHeaders, raw({0x00}))->first == raw({0x00, 0xFF}));
  CHECK(s.last_with_prefix(Table::kHeaders, raw({0xFE}))->first == raw({0xFE, 0xFF}));
  CHECK(s.last_with_prefix(Table::kHeaders, raw({0x80}))->first == raw({0x80, 0x00}));
  CHECK_FALSE(s.last_with_prefix(Table::kHeaders, raw({0xFF, 0xFF, 0xFF, 0xFF})).has_value());
  CHECK_FALSE(s.last_with_prefix(Table::kHeaders, raw({0x02})).has_value());
  // Prefix 0xFF when the greatest key does not start with it.
  WriteBatch w2;
  w2.put(Table::kUsers, raw({0xFE}), b("x"));
  w2.put(Table::kUsers, raw({0x10}), b("y"));
  s.write(w2);
  CHECK_FALSE(s.last_with_prefix(Table::kUsers, raw({0xFF})).has_value());
  CHECK(s.last_with_prefix(Table::kUsers, raw({0xFE}))->second == b("x"));
}

// Lent reads see what the copying ones return, and nothing for absent keys.
void check_lent_reads(Store& s) {
  WriteBatch w;
  w.put(Table::kUsers, b("k1"), b("value one"));
  w.put(Table::kUsers, b("k2"), Bytes{});
  w.put(Table::kRecords, concat(be32(7), be32(1)), b("r1"));
  w.put(Table::kRecords, concat(be32(7), be32(2)), b("r2"));
  s.write(w);
  Bytes seen;
  int calls = 0;
  CHECK(s.read(Table::kUsers, b("k1"), [&](ByteView v) {
    seen.assign(v.begin(), v.end());
    ++calls;
  }));
  CHECK(seen == b("value one"));
  CHECK(s.read(Table::kUsers, b("k2"), [&](ByteView v) {
    CHECK(v.empty());
    ++calls;
  }));
  CHECK_FALSE(s.read(Table::kUsers, b("k3"), [&](ByteView) { ++calls; }));
  CHECK_FALSE(s.read(Table::kRecords, b("k1"), [&](ByteView) { ++calls; }));
  CHECK(calls == 2);

  Bytes key, value;
  CHECK(s.read_last_with_prefix(Table::kRecords, be32(7), [&](ByteView k, ByteView v) {
    key.assign(k.begin(), k.end());
    value.assign(v.begin(), v.end());
  }));
  CHECK(key == concat(be32(7), be32(2)));
  CHECK(value == b("r2"));
  CHECK_FALSE(s.read_last_with_prefix(Table::kRecords, be32(8), [&](ByteView, ByteView) {
    FAIL("lent an entry outside the prefix");
  }));
}

void check_size_grows(Store& s) {
  const auto empty = s.size_bytes();
  WriteBatch w;
  for (std::uint32_t i = 0; i < 200; ++i) w.put(Table::kBlobs, be32(i), Bytes(1000, 0x42));
  s.write(w);
  const auto full = s.size_bytes();
  CHECK(full > empty);
  CHECK(full >= 200u * 1000u);
  put1(s, Table::kMeta, b("more"), Bytes(50000, 0x43));
  CHECK(s.size_bytes() > full);
}

// Long keys over a three-byte alphabet share long prefixes, end in zero
// bytes and are prefixes of one another: the order must still be bytewise.
void check_long_key_order(Store& s) {
  const std::uint32_t seed = 20240607;
  CAPTURE(seed);
  std::mt19937 rng(seed);
  const std::uint8_t alphabet[] = {0x00, 0x01, 0xFF};
  std::vector<Bytes> keys;
  for (int i = 0; i < 600; ++i) {
    Bytes k(12 + rng() % 30, 0x00);
    for (std::size_t j = 10; j < k.size(); ++j) k[j] = alphabet[rng() % 3];
    keys.push_back(k);
  }
  WriteBatch w;
  for (const Bytes& k : keys) w.put(Table::kUsers, k, concat(b("v"), k));
  s.write(w);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  CHECK(keys_of(scan_all(s, Table::kUsers, {}, {})) == keys);
  for (std::size_t i = 0; i < keys.size(); i += 2) del1(s, Table::kUsers, keys[i]);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto v = s.get(Table::kUsers, keys[i]);
    if (i % 2 == 0) {
      CHECK_FALSE(v.has_value());
    } else {
      REQUIRE(v.has_value());
      CHECK(*v == concat(b("v"), keys[i]));
    }
  }
  for (int i = 0; i < 200; ++i) {
    const Bytes& k = keys[rng() % keys.size()];
    const Bytes prefix(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(1 + rng() % k.size()));
    std::optional<Bytes> expected;
    for (std::size_t j = 1; j < keys.size(); j += 2)
      if (std::equal(prefix.begin(), prefix.end(), keys[j].begin(),
                     keys[j].begin() +
                         static_cast<std::ptrdiff_t>(std::min(prefix.size(), keys[j].size()))) &&
          keys[j].size() >= prefix.size())
        expected = keys[j];
    auto last = s.last_with_prefix(Table::kUsers, prefix);
    CHECK(last.has_value() == expected.has_value());
    if (last && expected) CHECK(last->first == *expected);
  }
}

// Random puts, overwrites and deletes against a model, read by key, then
// the first ordered read (the memory store reorganises the table there),
// then more of the same: every read agrees with the model throughout.
std::uint64_t logical_bytes(const std::map<Bytes, Bytes>& model) {
  std::uint64_t n = 0;
  for (const auto& [k, v] : model) n += k.size() + v.size();
  return n;
}

void apply_random_ops(Store& s, std::map<Bytes, Bytes>& model, std::mt19937& rng, int ops) {
  for (int i = 0; i < ops; ++i) {
    const Bytes key = concat(b("u"), be32(rng() % 400));
    WriteBatch w;
    if (rng() % 4 == 0) {
      w.del(Table::kUsers, key);
      model.erase(key);
    } else {
      const Bytes value = be32(rng() % 3);  // often rewritten as it was
      w.put(Table::kUsers, key, value);
      model[key] = value;
    }
    s.write(w);
  }
}

void check_agrees_with(const Store& s, const std::map<Bytes, Bytes>& model) {
  for (std::uint32_t i = 0; i < 400; ++i) {
    const Bytes key = concat(b("u"), be32(i));
    auto it = model.find(key);
    auto v = s.get(Table::kUsers, key);
    REQUIRE(v.has_value() == (it != model.end()));
    if (v) CHECK(*v == it->second);
  }
}

void check_reads_before_and_after_ordering(Store& s) {
  std::mt19937 rng(20261204);
  std::map<Bytes, Bytes> model;
  apply_random_ops(s, model, rng, 1500);
  check_agrees_with(s, model);
  const auto scanned = scan_all(s, Table::kUsers, {}, {});
  CHECK(scanned == std::vector<std::pair<Bytes, Bytes>>(model.begin(), model.end()));
  apply_random_ops(s, model, rng, 1500);
  check_agrees_with(s, model);
  CHECK(scan_all(s, Table::kUsers, {}, {}) ==
        std::vector<std::pair<Bytes, Bytes>>(model.begin(), model.end()));
}

#define MHR_STORE_TEST(title, check)   \
  TEST_CASE("store[memory]: " title) { \
    MemoryBackend backend;             \
    check(*backend.store);             \
  }                                    \
  TEST_CASE("store[lmdb]: " title) {   \
    LmdbBackend backend;               \
    check(*backend.store);             \
  }

MHR_STORE_TEST("put get overwrite delete", check_put_get_overwrite_delete)
MHR_STORE_TEST("absent key reads as nullopt", check_absent_key)
MHR_STORE_TEST("tables are independent", check_tables_independent)
MHR_STORE_TEST("batch ops apply in order", check_batch_order)
MHR_STORE_TEST("batch with an invalid op applies nothing", check_batch_atomic)
MHR_STORE_TEST("key size limits", check_key_size_limit)
MHR_STORE_TEST("ordered scan over binary keys", check_ordered_scan)
MHR_STORE_TEST("scan_prefix", check_scan_prefix)
MHR_STORE_TEST("last_with_prefix", check_last_with_prefix)
MHR_STORE_TEST("lent reads", check_lent_reads)
MHR_STORE_TEST("size_bytes grows", check_size_grows)
MHR_STORE_TEST("long keys sharing prefixes keep bytewise order", check_long_key_order)
MHR_STORE_TEST("reads agree before and after the first ordered read",
               check_reads_before_and_after_ordering)

TEST_CASE("store[memory]: size_bytes counts the same whether a table is hashed or ordered") {
  auto s = open_memory_store();
  std::mt19937 rng(7);
  std::map<Bytes, Bytes> model;
  apply_random_ops(*s, model, rng, 1000);
  CHECK(s->size_bytes() == logical_bytes(model));
  s->scan(Table::kUsers, {}, {}, [](ByteView, ByteView) { return true; });
  CHECK(s->size_bytes() == logical_bytes(model));
  apply_random_ops(*s, model, rng, 1000);
  CHECK(s->size_bytes() == logical_bytes(model));
}

// The memory store shares equal bytes between stores (a simulation's
// members all store the same headers): each store must still see only
// its own writes.
TEST_CASE("store[memory]: stores that wrote equal bytes stay independent") {
  auto a = open_memory_store();
  auto c = open_memory_store();
  const Bytes key = b("header-0000000001");
  const Bytes value(300, 0x5A);
  put1(*a, Table::kHeaders, key, value);
  put1(*c, Table::kHeaders, key, value);
  CHECK(a->size_bytes() == key.size() + value.size());
  CHECK(c->size_bytes() == key.size() + value.size());
  put1(*a, Table::kHeaders, key, b("changed"));
  CHECK(*a->get(Table::kHeaders, key) == b("changed"));
  CHECK(*c->get(Table::kHeaders, key) == value);
  del1(*a, Table::kHeaders, key);
  CHECK_FALSE(a->get(Table::kHeaders, key).has_value());
  CHECK(*c->get(Table::kHeaders, key) == value);
  CHECK(a->size_bytes() == 0);
  a.reset();
  CHECK(*c->get(Table::kHeaders, key) == value);
  CHECK(c->size_bytes() == key.size() + value.size());
}

// ---- Back-end independent helpers. --------------------------------------

TEST_CASE("store: prefix_successor") {
  CHECK(prefix_successor(b("abc")) == b("abd"));
  CHECK(prefix_successor(raw({0x00})) == raw({0x01}));
  CHECK(prefix_successor(raw({0x01, 0xFF})) == raw({0x02}));
  CHECK(prefix_successor(raw({0x01, 0xFF, 0xFF})) == raw({0x02}));
  CHECK(prefix_successor(raw({0x00, 0xFE})) == raw({0x00, 0xFF}));
  CHECK(prefix_successor(raw({0xFE, 0xFF})) == raw({0xFF}));
  CHECK(prefix_successor(raw({0xFF})).empty());
  CHECK(prefix_successor(raw({0xFF, 0xFF, 0xFF})).empty());
  CHECK(prefix_successor({}).empty());
  // On the stack, the same bound.
  for (const Bytes& p : {b("abc"), raw({0x01, 0xFF, 0xFF}), raw({0xFE, 0xFF}), raw({0xFF}), Bytes{},
                         raw({0x00, 0xFE})})
    CHECK(prefix_successor_key(p) == prefix_successor(p));
}

TEST_CASE("store: table names are distinct") {
  std::vector<std::string_view> names;
  for (std::size_t i = 0; i < kTableCount; ++i) {
    const auto name = table_name(static_cast<Table>(i));
    CHECK_FALSE(name.empty());
    for (auto other : names) CHECK(other != name);
    names.push_back(name);
  }
  CHECK(table_name(Table::kRecords) != table_name(Table::kHeaders));
}

// ---- LMDB only. ---------------------------------------------------------

TEST_CASE("store[lmdb]: data survives close and reopen") {
  TempDir dir;
  const std::string path = dir.str("nested/db");  // created with its parents
  {
    auto s = must_open(path);
    WriteBatch w;
    w.put(Table::kRecords, b("r1"), b("record one"));
    w.put(Table::kHeaders, b("h1"), b("header one"));
    w.put(Table::kRecordIndex, raw({0x00, 0xFF}), b("position"));
    w.put(Table::kMeta, b("doomed"), b("x"));
    s->write(w);
    del1(*s, Table::kMeta, b("doomed"));
  }
  CHECK(fs::exists(fs::path(path) / "data.mdb"));
  {
    auto s = must_open(path);
    CHECK(s->get(Table::kRecords, b("r1")) == b("record one"));
    CHECK(s->get(Table::kHeaders, b("h1")) == b("header one"));
    CHECK(s->get(Table::kRecordIndex, raw({0x00, 0xFF})) == b("position"));
    CHECK_FALSE(s->get(Table::kMeta, b("doomed")).has_value());
    CHECK_FALSE(s->get(Table::kHeaders, b("r1")).has_value());
    put1(*s, Table::kRecords, b("r2"), b("record two"));
  }
  auto s = must_open(path);
  CHECK(scan_keys(*s, Table::kRecords, {}, {}) == std::vector<Bytes>{b("r1"), b("r2")});
}

TEST_CASE("store[lmdb]: opening a regular file is an error") {
  TempDir dir;
  const std::string file = dir.str("not-a-dir");
  std::ofstream(file) << "plain file";
  auto r = open_lmdb_store(file);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find(file) != std::string::npos);
  CHECK(r.error().rfind("lmdb: cannot open ", 0) == 0);

  // A directory under a regular file cannot be created either.
  auto r2 = open_lmdb_store(file + "/sub");
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().find(file + "/sub") != std::string::npos);
}

TEST_CASE("store[lmdb]: a 10000-record batch commits in one write") {
  TempDir dir;
  auto s = must_open(dir.str("db"));
  WriteBatch w;
  for (std::uint32_t i = 0; i < 10000; ++i)
    w.put(Table::kRecords, concat(be32(7), be32(i)), Bytes(100, static_cast<std::uint8_t>(i)));
  s->write(w);
  std::size_t count = 0;
  std::uint32_t expect = 0;
  bool ordered = true;
  s->scan_prefix(Table::kRecords, be32(7), [&](ByteView k, ByteView v) {
    ordered = ordered && Bytes(k.begin(), k.end()) == concat(be32(7), be32(expect)) &&
              v.size() == 100 && v[0] == static_cast<std::uint8_t>(expect);
    ++expect;
    ++count;
    return true;
  });
  CHECK(count == 10000);
  CHECK(ordered);
  CHECK(s->last_with_prefix(Table::kRecords, be32(7))->first == concat(be32(7), be32(9999)));
}

TEST_CASE("store[lmdb]: a batch that fails inside the transaction applies nothing") {
  TempDir dir;
  LmdbOptions small;
  small.map_size_bytes = 1 << 20;  // 1 MiB: the batch below cannot fit
  auto s = must_open(dir.str("db"), small);
  put1(*s, Table::kRecords, b("keep"), b("original"));

  WriteBatch w;
  w.put(Table::kRecords, b("keep"), b("changed"));
  for (std::uint32_t i = 0; i < 64; ++i) w.put(Table::kBlobs, be32(i), Bytes(64 * 1024, 0x11));
  try {
    s->write(w);
    FAIL("write of a batch larger than the map should throw");
  } catch (const StoreError& e) {
    CHECK(std::string(e.what()).find("lmdb:") != std::string::npos);
  }
  CHECK(s->get(Table::kRecords, b("keep")) == b("original"));
  CHECK(scan_keys(*s, Table::kBlobs, {}, {}).empty());
  // Still usable afterwards.
  put1(*s, Table::kRecords, b("after"), b("ok"));
  CHECK(s->get(Table::kRecords, b("after")) == b("ok"));
}

TEST_CASE("store[lmdb]: reads from other threads while writing") {
  TempDir dir;
  LmdbOptions fast;
  fast.fsync = false;
  auto s = must_open(dir.str("db"), fast);
  put1(*s, Table::kMeta, b("counter"), be32(0));

  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      std::uint32_t last = 0;
      while (!done.load()) {
        auto v = s->get(Table::kMeta, b("counter"));
        if (!v || v->size() != 4) {
          ++bad;
          continue;
        }
        const std::uint32_t n = (std::uint32_t{(*v)[0]} << 24) | (std::uint32_t{(*v)[1]} << 16) |
                                (std::uint32_t{(*v)[2]} << 8) | std::uint32_t{(*v)[3]};
        if (n < last) ++bad;  // snapshots never go backwards
        last = n;
        // A record for every counter value up to n is visible.
        if (n > 0 && !s->get(Table::kRecords, be32(n)).has_value()) ++bad;
      }
    });
  }
  for (std::uint32_t i = 1; i <= 300; ++i) {
    WriteBatch w;
    w.put(Table::kRecords, be32(i), b("r"));
    w.put(Table::kMeta, b("counter"), be32(i));
    s->write(w);
  }
  done = true;
  for (auto& t : readers) t.join();
  CHECK(bad.load() == 0);
  CHECK(s->get(Table::kMeta, b("counter")) == be32(300));
}

}  // namespace
}  // namespace mhr

namespace mhr {

TEST_CASE("lmdb: a changed byte of a stored key or value is refused on read, never served") {
  TempDir dir;
  const Bytes key = {'k', 'e', 'y', '-', '1'};
  const Bytes value(200, 0x5a);
  {
    auto s = must_open(dir.str());
    WriteBatch b;
    b.put(Table::kRecords, key, value);
    s->write(b);
  }
  const fs::path file = dir.path() / "data.mdb";
  std::vector<char> bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // The value's bytes in the file: change one in the middle.
  const std::string needle(value.begin(), value.end());
  const auto at = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  REQUIRE(at != bytes.end());
  *(at + 100) ^= 0x01;
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto s = must_open(dir.str());
  CHECK_THROWS_WITH_AS(s->get(Table::kRecords, key), doctest::Contains("checksum"), StoreError);
  CHECK_THROWS_AS(s->scan(Table::kRecords, {}, {}, [](ByteView, ByteView) { return true; }),
                  StoreError);
}

TEST_CASE("lmdb: a read-only open creates nothing and refuses writes") {
  TempDir dir;
  CHECK_FALSE(open_lmdb_store(dir.str("missing"), LmdbOptions{.read_only = true}).ok());
  CHECK_FALSE(fs::exists(dir.path() / "missing"));
  {
    auto s = must_open(dir.str("store"));
    WriteBatch b;
    b.put(Table::kMeta, Bytes{1}, Bytes{2});
    s->write(b);
  }
  auto s = must_open(dir.str("store"), LmdbOptions{.read_only = true});
  CHECK(s->get(Table::kMeta, Bytes{1}) == Bytes{2});
  WriteBatch b;
  b.put(Table::kMeta, Bytes{3}, Bytes{4});
  CHECK_THROWS_AS(s->write(b), StoreError);
}

// A batch hands out views of its own buffer (ops, puts_with_prefix); an op
// written from such a view stays right while the buffer grows past its
// inline part and moves.
TEST_CASE("store: a write batch takes keys and values that view the batch itself") {
  WriteBatch batch;
  const Bytes key{'k', 1, 2, 3}, value(100, 0x5a);
  batch.put(Table::kMeta, key, value);
  for (int i = 0; i < 40; ++i) {
    const WriteBatch::Op first = batch.op(0);
    batch.put(Table::kRecords, first.key, first.value);  // past its inline bytes: the buffer moves
    batch.del(Table::kUsers, batch.op(batch.size() - 1).key);
  }
  REQUIRE(batch.size() == 81);
  for (const WriteBatch::Op op : batch.ops()) {
    CHECK(Bytes(op.key.begin(), op.key.end()) == key);
    CHECK(op.value.size() == (op.is_put ? value.size() : 0));
    if (op.is_put) CHECK(Bytes(op.value.begin(), op.value.end()) == value);
  }
  CHECK(batch.puts_with_prefix(Table::kRecords, Bytes{'k'}).size() == 40);
  CHECK(batch.puts_with_prefix(Table::kUsers, Bytes{'k'}).empty());
}

TEST_CASE("store: a write batch takes values written in place, as encoded") {
  WriteBatch batch;
  const Bytes key{'p', 9};
  const Hash h = sha256(as_bytes("a value"));
  RecordPlace place{NetworkId{3}, 41, MerkleProof{5, 9, {h, h, h}}};
  batch.put_encoded(Table::kMeta, key, place);
  for (int i = 0; i < 20; ++i) {
    const ByteView own_key = batch.op(batch.size() - 1).key;  // views the batch: it grows
    batch.put_written(Table::kUsers, own_key, 8 + Hash::kSize, [&](Writer& w) {
      w.fixed(h);
      for (int b = 0; b < 8; ++b) w.u8(static_cast<std::uint8_t>(i));
    });
  }
  REQUIRE(batch.size() == 21);
  const WriteBatch::Op first = batch.op(0);
  CHECK(Bytes(first.value.begin(), first.value.end()) == encode(place));
  for (std::size_t i = 1; i < batch.size(); ++i) {
    const WriteBatch::Op op = batch.op(i);
    CHECK(Bytes(op.key.begin(), op.key.end()) == key);
    REQUIRE(op.value.size() == 8 + Hash::kSize);
    CHECK(std::equal(h.bytes.begin(), h.bytes.end(), op.value.begin()));
    CHECK(op.value.back() == i - 1);
  }
}


TEST_CASE("store: a write batch copies and moves with its bytes, inline or grown") {
  const auto ops_of = [](const WriteBatch& w) {
    std::vector<std::pair<Bytes, Bytes>> out;
    for (const WriteBatch::Op op : w.ops())
      out.emplace_back(Bytes(op.key.begin(), op.key.end()),
                       Bytes(op.value.begin(), op.value.end()));
    return out;
  };
  for (const std::size_t value_bytes : {std::size_t{10}, std::size_t{5000}}) {
    WriteBatch w;
    w.put(Table::kUsers, b("a"), Bytes(value_bytes, 0x61));
    w.put(Table::kUsers, b("b"), Bytes(value_bytes, 0x62));
    const auto expected = ops_of(w);
    REQUIRE(expected.size() == 2);
    CHECK(expected[1].second == Bytes(value_bytes, 0x62));
    WriteBatch copy = w;
    CHECK(ops_of(copy) == expected);
    copy.put(Table::kUsers, b("c"), b("more"));  // the copy grows on its own
    CHECK(ops_of(w) == expected);
    WriteBatch moved = std::move(w);
    CHECK(ops_of(moved) == expected);
    WriteBatch assigned;
    assigned.put(Table::kMeta, b("x"), b("y"));
    assigned = moved;
    CHECK(ops_of(assigned) == expected);
    assigned = std::move(copy);
    CHECK(ops_of(assigned).size() == 3);
  }
}

}  // namespace mhr
