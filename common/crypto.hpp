// Cryptographic primitives of MHR chain, all through Crypto++: SHA-256,
// Ed25519 signatures, AES-256-GCM, X25519 agreement, HKDF-SHA256, and a
// secure random source. Nothing here keeps global state.
#pragma once

#include <memory>
#include <optional>
#include <span>

#include "common/types.hpp"

namespace mhr {

// ---- SHA-256 ---------------------------------------------------------------
Hash sha256(ByteView data);
// Hash of the concatenation a || b (Merkle nodes, chained digests).
Hash sha256(ByteView a, ByteView b);

// Incremental SHA-256 for data that arrives in pieces. The hash state lives
// inside the object (no allocation): one is made per signature checked.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void update(ByteView data);
  Hash finish();  // may be called once

 private:
  struct Impl;
  Impl& impl();
  static constexpr std::size_t kImplBytes = 256;
  alignas(16) unsigned char storage_[kImplBytes];
};

// ---- Signatures ------------------------------------------------------------
// Who signs and how signatures are checked, so that a simulation can swap
// Ed25519 for a cheap modeled scheme (signer.hpp) without touching callers.
class Signer {
 public:
  virtual ~Signer() = default;
  virtual const PublicKey& public_key() const = 0;
  virtual Signature sign(ByteView message) const = 0;
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  virtual bool verify(const PublicKey& key, ByteView message, const Signature& sig) const = 0;
};

// ---- Ed25519 ---------------------------------------------------------------
struct SecretSeed : FixedBytes<32> {};  // the RFC 8032 private key

// A signing key. The public key is derived once, at construction.
class KeyPair final : public Signer {
 public:
  static KeyPair generate();
  static KeyPair from_seed(const SecretSeed& seed);
  KeyPair(const KeyPair&);
  KeyPair& operator=(const KeyPair&);
  KeyPair(KeyPair&&) noexcept;
  KeyPair& operator=(KeyPair&&) noexcept;
  ~KeyPair();

  const PublicKey& public_key() const override { return public_key_; }
  const SecretSeed& seed() const { return seed_; }
  Signature sign(ByteView message) const override;

 private:
  KeyPair() = default;
  struct Impl;
  SecretSeed seed_;
  PublicKey public_key_;
  std::unique_ptr<Impl> impl_;
};

// False for a wrong signature, a wrong message or a malformed public key.
bool verify(const PublicKey& key, ByteView message, const Signature& signature);
// The Ed25519 verify above behind the Verifier interface.
const Verifier& ed25519_verifier();

// ---- AES-256-GCM -----------------------------------------------------------
struct AeadKey : FixedBytes<32> {};
struct AeadNonce : FixedBytes<12> {};
inline constexpr std::size_t kAeadTagBytes = 16;

// Returns ciphertext || 16-byte tag.
Bytes aead_seal(const AeadKey& key, const AeadNonce& nonce, ByteView plaintext, ByteView aad);
// nullopt when the tag does not verify (wrong key, nonce, aad or tampering).
std::optional<Bytes> aead_open(const AeadKey& key, const AeadNonce& nonce, ByteView sealed,
                               ByteView aad);

// ---- X25519 + HKDF ---------------------------------------------------------
struct X25519Secret : FixedBytes<32> {};
struct X25519Public : FixedBytes<32> {};
struct SharedSecret : FixedBytes<32> {};

struct X25519KeyPair {
  X25519Secret secret;
  X25519Public public_key;
  static X25519KeyPair generate();
  static X25519KeyPair from_secret(const X25519Secret& secret);  // clamps as RFC 7748
};

// nullopt when the peer key is a low-order point (all-zero shared secret).
std::optional<SharedSecret> x25519_agree(const X25519Secret& mine, const X25519Public& theirs);

// RFC 5869 with SHA-256. length_bytes <= 255 * 32.
Bytes hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length_bytes);

// ---- Randomness ------------------------------------------------------------
// Operating-system randomness. Role logic never calls this: it draws from its
// environment so that simulations replay exactly.
void secure_random(std::span<std::uint8_t> out);
std::uint64_t secure_random_u64();  // e.g. a client's request nonce

}  // namespace mhr
