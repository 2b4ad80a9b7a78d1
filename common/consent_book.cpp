#include "common/consent_book.hpp"

#include <map>

#include "common/chain_store.hpp"

namespace mhr {

namespace {
// Keys of the kUsers table (the roles use other tags there).
constexpr std::uint8_t kGrantTag = 'C';    // user, grant id -> statement
constexpr std::uint8_t kRevokedTag = 'V';  // user, grant id -> {}
constexpr std::uint8_t kKeyTag = 'K';      // user, holder, recipient -> sealed key
constexpr std::uint8_t kErasedTag = 'E';   // user -> {}

Bytes user_key(std::uint8_t tag, const UserId& user, ByteView rest = {}) {
  Bytes k = tagged_key(tag, user.view());
  k.insert(k.end(), rest.begin(), rest.end());
  return k;
}

bool has_key(const Store& store, ByteView key) {
  return store.get(Table::kUsers, key).has_value();
}

bool put_in(const WriteBatch& batch, const Bytes& key) {
  for (const WriteBatch::Op& put : batch.puts_with_prefix(Table::kUsers, key))
    if (put.key.size() == key.size()) return true;
  return false;
}

// Deletes every key with this prefix, stored or put earlier in the batch.
void delete_prefix(const Store& store, WriteBatch& batch, const Bytes& prefix) {
  std::vector<Bytes> doomed;
  store.scan_prefix(Table::kUsers, prefix, [&](ByteView k, ByteView) {
    doomed.emplace_back(k.begin(), k.end());
    return true;
  });
  for (const WriteBatch::Op& put : batch.puts_with_prefix(Table::kUsers, prefix))
    doomed.emplace_back(put.key.begin(), put.key.end());
  for (const Bytes& k : doomed) batch.del(Table::kUsers, k);
}
}  // namespace

void ConsentBook::apply(WriteBatch& batch, const PatientStatement& s) const {
  const UserId& user = s.user;
  if (std::holds_alternative<Erasure>(s.act)) {
    erase(batch, user);
    return;
  }
  if (const auto* r = std::get_if<ConsentRevocation>(&s.act)) {
    batch.put(Table::kUsers, user_key(kRevokedTag, user, r->grant.view()), {});
    return;
  }
  if (erased(user) || put_in(batch, user_key(kErasedTag, user)))
    return;  // nothing sealed is kept for an erased user
  if (const auto* g = std::get_if<ConsentGrant>(&s.act)) {
    const Hash id = statement_id(s);
    batch.put(Table::kUsers, user_key(kGrantTag, user, id.view()), encode(s));
    if (g->key) put_key(batch, user, g->grantee, *g->key);
  } else if (const auto* ks = std::get_if<DataKeyShare>(&s.act)) {
    for (const KeyShare& share : ks->shares) put_key(batch, user, share.holder, share.key);
  }
}

void ConsentBook::put_key(WriteBatch& batch, const UserId& user, const PublicKey& holder,
                          const WrappedKey& key) const {
  Bytes rest(holder.view().begin(), holder.view().end());
  rest.insert(rest.end(), key.recipient.view().begin(), key.recipient.view().end());
  batch.put(Table::kUsers, user_key(kKeyTag, user, rest), encode(key));
}

// Destroys every sealed key and grant of the user; revocations stay, so a
// late copy of a grant never comes back to life.
void ConsentBook::erase(WriteBatch& batch, const UserId& user) const {
  delete_prefix(store_, batch, user_key(kKeyTag, user));
  delete_prefix(store_, batch, user_key(kGrantTag, user));
  batch.put(Table::kUsers, user_key(kErasedTag, user), {});
}

std::vector<ActiveGrant> ConsentBook::grants_in_force(const UserId& user, TimeUs now_us) const {
  std::vector<ActiveGrant> out;
  store_.scan_prefix(Table::kUsers, user_key(kGrantTag, user), [&](ByteView k, ByteView v) {
    const Hash id = Hash::from_view(k.subspan(1 + UserId::kSize));
    if (has_key(store_, user_key(kRevokedTag, user, id.view()))) return true;
    auto s = decode<PatientStatement>(v);
    MHR_ASSERT_MSG(s.ok(), "stored consent grant does not decode");
    const auto& grant = std::get<ConsentGrant>(s.value().act);
    if (grant.in_force(now_us)) out.push_back({id, grant});
    return true;
  });
  return out;
}

std::vector<WrappedKey> ConsentBook::keys_for(const UserId& user, const PublicKey& holder) const {
  std::vector<WrappedKey> out;
  store_.scan_prefix(Table::kUsers, user_key(kKeyTag, user, holder.view()),
                     [&](ByteView, ByteView v) {
                       auto key = decode<WrappedKey>(v);
                       MHR_ASSERT_MSG(key.ok(), "stored wrapped key does not decode");
                       out.push_back(std::move(key).value());
                       return out.size() < kMaxKeyShares;
                     });
  return out;
}

bool ConsentBook::erased(const UserId& user, const WriteBatch& pending) const {
  return erased(user) || put_in(pending, user_key(kErasedTag, user));
}

bool ConsentBook::erased(const UserId& user) const {
  return has_key(store_, user_key(kErasedTag, user));
}

std::size_t ConsentBook::grant_count(const UserId& user) const {
  std::size_t n = 0;
  store_.scan_prefix(Table::kUsers, user_key(kGrantTag, user), [&](ByteView, ByteView) {
    ++n;
    return true;
  });
  return n;
}

}  // namespace mhr

namespace mhr {

bool is_consent_key(ByteView key) {
  if (key.empty()) return false;
  return key[0] == kGrantTag || key[0] == kRevokedTag || key[0] == kKeyTag || key[0] == kErasedTag;
}

namespace {
using Entries = std::map<Bytes, Bytes>;

Entries consent_entries(const Store& store) {
  Entries out;
  store.scan(Table::kUsers, {}, {}, [&](ByteView k, ByteView v) {
    if (is_consent_key(k)) out.emplace(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  });
  return out;
}
}  // namespace

// The book is derived state: replaying the stored patient acts (erasures
// last, which gives the same book in any arrival order) must give it back.
std::optional<std::string> consent_book_error(const Store& store, const Verifier& verifier) {
  auto replayed = open_memory_store();
  ConsentBook book(*replayed);
  std::vector<PatientStatement> erasures;
  ChainStore(store).for_each([&](const Hash&, const Record& r) {
    if (!is_patient_act(r)) return;
    auto s = statement_of(r);
    if (!s || s->user != r.user || statement_error(*s, verifier)) return;
    if (std::holds_alternative<Erasure>(s->act)) {
      erasures.push_back(std::move(*s));
      return;
    }
    WriteBatch b;
    book.apply(b, *s);
    replayed->write(b);
  });
  for (const PatientStatement& s : erasures) {
    WriteBatch b;
    book.apply(b, s);
    replayed->write(b);
  }
  const Entries stored = consent_entries(store), expected = consent_entries(*replayed);
  for (const auto& [k, v] : stored) {
    auto it = expected.find(k);
    if (it == expected.end())
      return "consent entry " + to_hex(k) + " is not backed by any stored patient act";
    if (it->second != v) return "consent entry " + to_hex(k) + " differs from its patient act";
  }
  for (const auto& [k, v] : expected)
    if (!stored.contains(k))
      return "consent entry " + to_hex(k) + " of a stored patient act is missing";
  return std::nullopt;
}

}  // namespace mhr
