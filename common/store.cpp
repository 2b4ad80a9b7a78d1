// Back-end independent parts of the storage interface.
#include "common/store.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

#include "common/assert.hpp"

namespace mhr {

std::string_view table_name(Table t) {
  switch (t) {
    case Table::kMeta:
      return "meta";
    case Table::kRecords:
      return "records";
    case Table::kHeaders:
      return "headers";
    case Table::kRecordIndex:
      return "record_index";
    case Table::kUsers:
      return "users";
    case Table::kPending:
      return "pending";
    case Table::kAudit:
      return "audit";
    case Table::kBlobs:
      return "blobs";
    case Table::kBlocks:
      return "blocks";
    case Table::kIndexChain:
      return "index_chain";
  }
  assert_fail("t is a Table", __FILE__, __LINE__, "unknown table");
}

// Where `v` starts in this batch's buffer, when it views the buffer itself
// (a key or value of an earlier op).
std::optional<std::size_t> WriteBatch::offset_in_buffer(ByteView v) const {
  const std::less_equal<const std::uint8_t*> le;
  const std::uint8_t* base = bytes_.data();
  if (v.empty() || !le(base, v.data()) || le(base + bytes_.size(), v.data())) return std::nullopt;
  return static_cast<std::size_t>(v.data() - base);
}

// Key and value are located before the buffer grows (which may move it and
// leave views of it dangling), then copied from where they are now.
void WriteBatch::add(Table t, bool is_put, ByteView key, ByteView value) {
  const std::optional<std::size_t> value_from = offset_in_buffer(value);  // before it moves
  const std::span<std::uint8_t> space = add_space(t, is_put, key, value.size());
  if (!value.empty())
    std::memcpy(space.data(), value_from ? bytes_.data() + *value_from : value.data(),
                value.size());
}

std::span<std::uint8_t> WriteBatch::add_space(Table t, bool is_put, ByteView key,
                                              std::size_t value_bytes) {
  MHR_ASSERT(key.size() <= UINT32_MAX && value_bytes <= UINT32_MAX - key.size() &&
             bytes_.size() <= UINT32_MAX - key.size() - value_bytes);
  const std::optional<std::size_t> key_from = offset_in_buffer(key);
  const std::size_t key_at = bytes_.size(), value_at = key_at + key.size();
  std::uint8_t* at = bytes_.grow(key.size() + value_bytes);
  if (!key.empty()) std::memcpy(at, key_from ? bytes_.data() + *key_from : key.data(), key.size());
  slots_.push_back(
      Slot{t, is_put, static_cast<std::uint32_t>(key_at), static_cast<std::uint32_t>(key.size()),
           static_cast<std::uint32_t>(value_at), static_cast<std::uint32_t>(value_bytes)});
  return std::span<std::uint8_t>(bytes_.data() + value_at, value_bytes);
}

void WriteBatch::put(Table t, ByteView key, ByteView value) {
  add(t, true, key, value);
}

void WriteBatch::del(Table t, ByteView key) {
  add(t, false, key, {});
}

WriteBatch::Op WriteBatch::op(std::size_t i) const {
  MHR_ASSERT(i < slots_.size());
  const Slot& s = slots_[i];
  const ByteView all(bytes_.data(), bytes_.size());
  return Op{s.table, s.is_put, all.subspan(s.key_at, s.key_size),
            all.subspan(s.value_at, s.value_size)};
}

std::vector<WriteBatch::Op> WriteBatch::puts_with_prefix(Table t, ByteView prefix) const {
  std::vector<Op> out;
  for (const Op op : ops())
    if (op.is_put && op.table == t && op.key.size() >= prefix.size() &&
        std::equal(prefix.begin(), prefix.end(), op.key.begin()))
      out.push_back(op);
  return out;
}

std::optional<Bytes> Store::get(Table t, ByteView key) const {
  std::optional<Bytes> out;
  read(t, key, [&out](ByteView v) { out.emplace(v.begin(), v.end()); });
  return out;
}

std::optional<std::pair<Bytes, Bytes>> Store::last_with_prefix(Table t, ByteView prefix) const {
  std::optional<std::pair<Bytes, Bytes>> out;
  read_last_with_prefix(t, prefix, [&out](ByteView k, ByteView v) {
    out.emplace(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
  });
  return out;
}

void Store::scan_prefix(Table t, ByteView prefix, const Visitor& visit) const {
  with_prefix_successor(prefix, [&](ByteView end) { scan(t, prefix, end, visit); });
}

StoreKey prefix_successor_key(ByteView prefix) {
  std::size_t n = prefix.size();
  while (n > 0 && prefix[n - 1] == 0xFF) --n;  // no byte follows 0xFF
  if (n == 0) return StoreKey();
  StoreKey out(prefix.first(n - 1));
  out.u8(static_cast<std::uint8_t>(prefix[n - 1] + 1));
  return out;
}

Bytes prefix_successor(ByteView prefix) {
  Bytes out(prefix.begin(), prefix.end());
  // Drop trailing 0xFF bytes (no byte follows them), then bump the last one.
  while (!out.empty() && out.back() == 0xFF) out.pop_back();
  if (!out.empty()) ++out.back();
  return out;
}

}  // namespace mhr
