// Back-end independent parts of the storage interface.
#include "common/store.hpp"

#include <algorithm>

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

void WriteBatch::put(Table t, ByteView key, ByteView value) {
  ops_.emplace_back(Put{t, Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end())});
}

std::vector<const WriteBatch::Put*> WriteBatch::puts_with_prefix(Table t, ByteView prefix) const {
  std::vector<const Put*> out;
  for (const Op& op : ops_)
    if (const auto* put = std::get_if<Put>(&op))
      if (put->table == t && put->key.size() >= prefix.size() &&
          std::equal(prefix.begin(), prefix.end(), put->key.begin()))
        out.push_back(put);
  return out;
}

void WriteBatch::del(Table t, ByteView key) {
  ops_.emplace_back(Delete{t, Bytes(key.begin(), key.end())});
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
