// Patients created through the FHIR gateway have no key of their own: the
// institution keeps one for them (custody), in a 0600 file of lines
// "<user hex> <seed hex>", appended and fsynced before the patient is
// registered. With it the gateway registers the patient, shares the
// patient's data key and can later sign the patient's acts.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/crypto.hpp"
#include "common/signer.hpp"

namespace mhr::fhir {

class CustodialKeys {
 public:
  // Reads the file if it exists; throws std::runtime_error naming the line
  // when it is damaged.
  CustodialKeys(std::string path, CryptoMode mode);

  // A new patient: a fresh seed, durable in the file before it is returned.
  UserId create();
  std::optional<SecretSeed> seed_of(const UserId& user) const;
  std::size_t size() const;

 private:
  std::string path_;
  CryptoMode mode_;
  mutable std::mutex mutex_;
  std::map<UserId, SecretSeed> seeds_;
};

}  // namespace mhr::fhir
