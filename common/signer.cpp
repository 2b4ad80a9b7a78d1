#include "common/signer.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

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

// Signatures over short messages that were computed lately. A simulated
// network's members all check the same header signature; the simulator
// still charges each check its modeled CPU cost (SimWorld's verifier), only
// the wall-clock work is done once. Direct-mapped, per thread; a hit
// compares key and message in full.
class ModeledSignatureMemo {
 public:
  static constexpr std::size_t kMaxMessageBytes = 96;

  Signature get(const PublicKey& key, ByteView message) {
    if (message.size() > kMaxMessageBytes) return modeled_signature(key, message);
    std::uint64_t mix;
    std::memcpy(&mix, key.bytes.data(), sizeof mix);
    for (std::size_t i = 0; i + 8 <= message.size(); i += 8) {
      std::uint64_t word;
      std::memcpy(&word, message.data() + i, sizeof word);
      mix = (mix ^ word) * 0x9E3779B97F4A7C15ull;
    }
    mix ^= message.size();
    Slot& s = slots_[(mix ^ (mix >> 31)) % kSlots];
    if (s.size != message.size() || s.key != key ||
        (message.size() > 0 &&
         std::memcmp(s.message.data(), message.data(), message.size()) != 0)) {
      s.key = key;
      s.size = message.size();
      std::copy(message.begin(), message.end(), s.message.begin());
      s.signature = modeled_signature(key, message);
    }
    return s.signature;
  }

 private:
  static constexpr std::size_t kSlots = 1024;
  struct Slot {
    PublicKey key;
    std::size_t size = kMaxMessageBytes + 1;  // matches no message
    std::array<std::uint8_t, kMaxMessageBytes> message{};
    Signature signature;
  };
  std::array<Slot, kSlots> slots_{};
};

class ModeledVerifier final : public Verifier {
 public:
  bool verify(const PublicKey& key, ByteView message, const Signature& sig) const override {
    thread_local auto memo = std::make_unique<ModeledSignatureMemo>();
    return memo->get(key, message) == sig;
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
