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

// `v` may view this very batch (a key of an earlier op): its offset is taken
// before the buffer grows and moves.
std::uint32_t WriteBatch::append(ByteView v) {
  MHR_ASSERT(v.size() <= UINT32_MAX && bytes_.size() <= UINT32_MAX - v.size());
  const auto at = static_cast<std::uint32_t>(bytes_.size());
  if (v.empty()) return at;
  const std::uint8_t* base = bytes_.data();
  const std::less_equal<const std::uint8_t*> le;
  if (le(base, v.data()) && !le(base + bytes_.size(), v.data())) {
    const std::size_t from = static_cast<std::size_t>(v.data() - base);
    bytes_.resize(bytes_.size() + v.size());
    std::memmove(bytes_.data() + at, bytes_.data() + from, v.size());
  } else {
    bytes_.insert(bytes_.end(), v.begin(), v.end());
  }
  return at;
}

void WriteBatch::put(Table t, ByteView key, ByteView value) {
  const std::uint32_t key_at = append(key);
  const std::uint32_t value_at = append(value);
  slots_.push_back(Slot{t, true, key_at, static_cast<std::uint32_t>(key.size()), value_at,
                        static_cast<std::uint32_t>(value.size())});
}

void WriteBatch::del(Table t, ByteView key) {
  const std::uint32_t key_at = append(key);
  slots_.push_back(Slot{t, false, key_at, static_cast<std::uint32_t>(key.size()), key_at, 0});
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

void Store::scan_prefix(Table t, ByteView prefix, const Visitor& visit) const {
  const Bytes end = prefix_successor(prefix);
  scan(t, prefix, end, visit);
}

Bytes prefix_successor(ByteView prefix) {
  Bytes out(prefix.begin(), prefix.end());
  // Drop trailing 0xFF bytes (no byte follows them), then bump the last one.
  while (!out.empty() && out.back() == 0xFF) out.pop_back();
  if (!out.empty()) ++out.back();
  return out;
}

}  // namespace mhr
