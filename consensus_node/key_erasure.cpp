#include "consensus_node/key_erasure.hpp"

#include "common/chain_store.hpp"
#include "common/consent.hpp"

namespace mhr {

namespace {
// kUsers tags, beside the consensus node's own.
constexpr std::uint8_t kKeyActTag = 'k';      // user, be64 height -> {}: a body holds its keys
constexpr std::uint8_t kErasedUserTag = 'x';  // user -> {}

enum class Act : std::uint8_t { kNone, kCarriesKeys, kErasure };

Act act_of(const Entry& e) {
  const auto* r = std::get_if<Record>(&e);
  if (!r || !is_patient_act(*r) || r->erased_payload) return Act::kNone;
  auto s = statement_of(*r);
  if (!s) return Act::kNone;
  if (std::holds_alternative<Erasure>(s->act)) return Act::kErasure;
  return carries_keys(*s) ? Act::kCarriesKeys : Act::kNone;
}

Bytes key_act_key(const UserId& user, std::uint64_t height) {
  Bytes k = tagged_key(kKeyActTag, user.view());
  append_be64(k, height);
  return k;
}

void erase_entry(PlacedEntry& p) {
  p.entry = with_payload_erased(std::get<Record>(p.entry));
}
}  // namespace

bool KeyErasure::erased(const UserId& user, const std::set<UserId>& now) const {
  return now.contains(user) ||
         store_.get(Table::kUsers, tagged_key(kErasedUserTag, user.view())).has_value();
}

void KeyErasure::mark_erased(WriteBatch& batch, const UserId& user) {
  batch.put(Table::kUsers, tagged_key(kErasedUserTag, user.view()), {});
}

void KeyErasure::on_block(WriteBatch& batch, std::vector<PlacedEntry>& entries,
                          std::uint64_t height) {
  std::set<UserId> erasing;
  std::set<UserId> marked;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Act act = act_of(entries[i].entry);
    if (act == Act::kNone) continue;
    const UserId user = std::get<Record>(entries[i].entry).user;
    if (act == Act::kErasure) {
      erasing.insert(user);
      for (std::size_t j = 0; j < i; ++j)
        if (act_of(entries[j].entry) == Act::kCarriesKeys &&
            std::get<Record>(entries[j].entry).user == user)
          erase_entry(entries[j]);
    } else if (erased(user, erasing)) {
      erase_entry(entries[i]);
    } else if (marked.insert(user).second) {
      batch.put(Table::kUsers, key_act_key(user, height), {});
    }
  }
  for (const UserId& user : erasing) {
    mark_erased(batch, user);
    erase_stored(batch, user);
    batch.del(Table::kUsers, key_act_key(user, height));
  }
}

void KeyErasure::on_foreign_record(WriteBatch& batch, const Record& r) {
  if (act_of(r) != Act::kErasure) return;
  mark_erased(batch, r.user);
  erase_stored(batch, r.user);
}

void KeyErasure::erase_stored(WriteBatch& batch, const UserId& user) {
  std::vector<Bytes> markers;
  store_.scan_prefix(Table::kUsers, tagged_key(kKeyActTag, user.view()), [&](ByteView k, ByteView) {
    markers.emplace_back(k.begin(), k.end());
    return true;
  });
  for (const Bytes& marker : markers) {
    const std::uint64_t height = read_be64(ByteView(marker).subspan(1 + UserId::kSize));
    const Bytes key = header_key(network_, height);
    auto body = store_.get(Table::kBlocks, key);
    MHR_ASSERT_MSG(body.has_value(), "a key marker names a block body that is not stored");
    auto entries = decode_block_body(*body);
    MHR_ASSERT_MSG(entries.ok(), "a stored block body does not decode");
    for (PlacedEntry& p : entries.value())
      if (act_of(p.entry) == Act::kCarriesKeys && std::get<Record>(p.entry).user == user)
        erase_entry(p);
    batch.put(Table::kBlocks, key, encode_block_body(entries.value()));
    batch.del(Table::kUsers, marker);
  }
}

}  // namespace mhr
