#include "common/signer.hpp"

#include <cstring>

namespace mhr {

namespace {

constexpr std::string_view kModeledKeyDomain = "mhr-modeled-key";

// The public key stands in for the secret: anyone may "sign" with it, which
// is fine for a stand-in whose only job is to be checked and cost little.
Signature modeled_signature(const PublicKey& key, ByteView message) {
  Signature sig;
  Hash h = sha256(key.view(), message);
  std::memcpy(sig.bytes.data(), h.bytes.data(), Hash::kSize);
  return sig;
}

class ModeledVerifier final : public Verifier {
 public:
  bool verify(const PublicKey& key, ByteView message, const Signature& sig) const override {
    return modeled_signature(key, message) == sig;
  }
};

}  // namespace

std::string_view crypto_mode_name(CryptoMode m) {
  return m == CryptoMode::kReal ? "real" : "modeled";
}

ModeledSigner::ModeledSigner(const SecretSeed& seed)
    : public_key_(PublicKey{sha256(as_bytes(kModeledKeyDomain), seed.view())}) {}

Signature ModeledSigner::sign(ByteView message) const {
  return modeled_signature(public_key_, message);
}

const Verifier& modeled_verifier() {
  static const ModeledVerifier instance;
  return instance;
}

std::unique_ptr<Signer> make_signer(CryptoMode mode, const SecretSeed& seed) {
  if (mode == CryptoMode::kModeled) return std::make_unique<ModeledSigner>(seed);
  return std::make_unique<KeyPair>(KeyPair::from_seed(seed));
}

const Verifier& verifier_for(CryptoMode mode) {
  return mode == CryptoMode::kModeled ? modeled_verifier() : ed25519_verifier();
}

}  // namespace mhr
