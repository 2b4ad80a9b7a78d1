// Choosing a signature scheme: real Ed25519, or a modeled stand-in for
// simulations of millions of records. The modeled scheme is a keyed hash:
// cheap, deterministic and still checked (a wrong key, message or signature
// fails), but it offers no security and never leaves the simulator.
#pragma once

#include <memory>
#include <string_view>

#include "common/crypto.hpp"

namespace mhr {

enum class CryptoMode : std::uint8_t { kReal, kModeled };
std::string_view crypto_mode_name(CryptoMode m);

class ModeledSigner final : public Signer {
 public:
  explicit ModeledSigner(const SecretSeed& seed);
  const PublicKey& public_key() const override { return public_key_; }
  Signature sign(ByteView message) const override;

 private:
  PublicKey public_key_;
};

const Verifier& modeled_verifier();

std::unique_ptr<Signer> make_signer(CryptoMode mode, const SecretSeed& seed);
const Verifier& verifier_for(CryptoMode mode);

}  // namespace mhr
