// What a holder knows of a user's consent, kept beside the user's records:
// the grants, the revocations, the data keys shared and whether the user
// asked for erasure. Built from the patient acts the holder stores (in the
// same batch), so it is exactly as current as the holder's copy of the chain.
#pragma once

#include <optional>
#include <vector>

#include "common/consent.hpp"
#include "common/store.hpp"

namespace mhr {

struct ActiveGrant {
  Hash id;
  ConsentGrant grant;
};

class ConsentBook {
 public:
  explicit ConsentBook(const Store& store) : store_(store) {}

  // Records what a valid statement says, in the batch that stores its record.
  void apply(WriteBatch& batch, const PatientStatement& s) const;

  // Grants not revoked and in force at now_us.
  std::vector<ActiveGrant> grants_in_force(const UserId& user, TimeUs now_us) const;
  // Keys sealed for `holder`; none once the user is erased.
  std::vector<WrappedKey> keys_for(const UserId& user, const PublicKey& holder) const;
  bool erased(const UserId& user) const;
  // Erased in the store, or by an erasure earlier in this batch.
  bool erased(const UserId& user, const WriteBatch& pending) const;
  // Stored grants of the user, revoked or not (reports, tests).
  std::size_t grant_count(const UserId& user) const;

 private:
  void put_key(WriteBatch& batch, const UserId& user, const PublicKey& holder,
               const WrappedKey& key) const;
  void erase(WriteBatch& batch, const UserId& user) const;

  const Store& store_;
};

// Whether a kUsers key is one of the book's.
bool is_consent_key(ByteView key);
// Why the book in `store` is not what its stored patient acts say (mhr verify).
std::optional<std::string> consent_book_error(const Store& store, const Verifier& verifier);

}  // namespace mhr
