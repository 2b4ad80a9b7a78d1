// Cryptographic primitives over Crypto++. See crypto.hpp for the contract.
//
// Ed25519 and X25519 call Crypto++'s Donna entry points (cryptopp/donna.h)
// directly where the class interfaces would only add a heap-allocated message
// accumulator and a copy of the message; the results are the same.
#include "common/crypto.hpp"

#include <cryptopp/aes.h>
#include <cryptopp/donna.h>
#include <cryptopp/gcm.h>
#include <cryptopp/hkdf.h>
#include <cryptopp/osrng.h>
#include <cryptopp/sha.h>
#include <cryptopp/xed25519.h>

#include <cstring>
#include <exception>
#include <new>

#include "common/assert.hpp"

namespace mhr {

namespace {

// Crypto++ tolerates null pointers only with zero lengths; an empty span may
// carry either, so give it a valid address anyway.
const CryptoPP::byte* ptr(ByteView v) {
  static constexpr CryptoPP::byte kEmpty = 0;
  return v.empty() ? &kEmpty : v.data();
}

// The group order L = 2^252 + 27742317777372353535851937790883648493, little
// endian. RFC 8032 5.1.7 requires S < L; Donna only checks the top three bits,
// which would let anyone turn a valid signature into a second valid one.
constexpr std::uint8_t kGroupOrder[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

bool scalar_is_canonical(const std::uint8_t* s) {
  for (int i = 31; i >= 0; --i) {
    if (s[i] < kGroupOrder[i]) return true;
    if (s[i] > kGroupOrder[i]) return false;
  }
  return false;  // equal to L
}

}  // namespace

// ---- SHA-256 ---------------------------------------------------------------

Hash sha256(ByteView data) {
  CryptoPP::SHA256 h;
  Hash out;
  h.CalculateDigest(out.bytes.data(), ptr(data), data.size());
  return out;
}

Hash sha256(ByteView a, ByteView b) {
  CryptoPP::SHA256 h;
  h.Update(ptr(a), a.size());
  h.Update(ptr(b), b.size());
  Hash out;
  h.Final(out.bytes.data());
  return out;
}

struct Sha256Stream::Impl {
  CryptoPP::SHA256 hash;
  bool finished = false;
};

Sha256Stream::Sha256Stream() {
  static_assert(sizeof(Impl) <= kImplBytes && alignof(Impl) <= 16,
                "Sha256Stream's storage is too small for Crypto++'s SHA256");
  new (storage_) Impl();
}
Sha256Stream::~Sha256Stream() {
  impl().~Impl();
}
Sha256Stream::Impl& Sha256Stream::impl() {
  return *std::launder(reinterpret_cast<Impl*>(storage_));
}

void Sha256Stream::update(ByteView data) {
  MHR_ASSERT_MSG(!impl().finished, "Sha256Stream::update after finish");
  impl().hash.Update(ptr(data), data.size());
}

Hash Sha256Stream::finish() {
  MHR_ASSERT_MSG(!impl().finished, "Sha256Stream::finish called twice");
  impl().finished = true;
  Hash out;
  impl().hash.Final(out.bytes.data());
  return out;
}

// ---- Ed25519 ---------------------------------------------------------------

// The Crypto++ signer keeps the seed and the derived public point, so a
// signature costs no scalar multiplication for the public key.
struct KeyPair::Impl {
  CryptoPP::ed25519Signer signer;

  Impl(const SecretSeed& seed, const PublicKey& pk) : signer(pk.bytes.data(), seed.bytes.data()) {}

  const CryptoPP::ed25519PrivateKey& key() const {
    return static_cast<const CryptoPP::ed25519PrivateKey&>(signer.GetPrivateKey());
  }
};

KeyPair KeyPair::generate() {
  SecretSeed seed;
  secure_random(seed.bytes);
  KeyPair kp = from_seed(seed);
  std::memset(seed.bytes.data(), 0, seed.bytes.size());
  return kp;
}

KeyPair KeyPair::from_seed(const SecretSeed& seed) {
  KeyPair kp;
  kp.seed_ = seed;
  int rc = CryptoPP::Donna::ed25519_publickey(kp.public_key_.bytes.data(), seed.bytes.data());
  MHR_ASSERT(rc == 0);
  kp.impl_ = std::make_unique<Impl>(kp.seed_, kp.public_key_);
  return kp;
}

KeyPair::KeyPair(const KeyPair& o)
    : seed_(o.seed_),
      public_key_(o.public_key_),
      impl_(o.impl_ ? std::make_unique<Impl>(o.seed_, o.public_key_) : nullptr) {}

KeyPair& KeyPair::operator=(const KeyPair& o) {
  if (this != &o) {
    KeyPair copy(o);
    *this = std::move(copy);
  }
  return *this;
}

KeyPair::KeyPair(KeyPair&&) noexcept = default;
KeyPair& KeyPair::operator=(KeyPair&&) noexcept = default;

KeyPair::~KeyPair() {
  std::memset(seed_.bytes.data(), 0, seed_.bytes.size());
}

Signature KeyPair::sign(ByteView message) const {
  MHR_ASSERT_MSG(impl_ != nullptr, "KeyPair::sign on a moved-from key pair");
  const auto& key = impl_->key();
  Signature sig;
  int rc = CryptoPP::Donna::ed25519_sign(ptr(message), message.size(), key.GetPrivateKeyBytePtr(),
                                         key.GetPublicKeyBytePtr(), sig.bytes.data());
  MHR_ASSERT(rc == 0);
  return sig;
}

bool verify(const PublicKey& key, ByteView message, const Signature& signature) {
  if (!scalar_is_canonical(signature.bytes.data() + 32)) return false;
  try {
    return CryptoPP::Donna::ed25519_sign_open(ptr(message), message.size(), key.bytes.data(),
                                              signature.bytes.data()) == 0;
  } catch (const std::exception&) {
    return false;
  }
}

// ---- AES-256-GCM -----------------------------------------------------------

Bytes aead_seal(const AeadKey& key, const AeadNonce& nonce, ByteView plaintext, ByteView aad) {
  CryptoPP::GCM<CryptoPP::AES>::Encryption enc;
  enc.SetKeyWithIV(key.bytes.data(), key.bytes.size(), nonce.bytes.data(), nonce.bytes.size());
  Bytes out(plaintext.size() + kAeadTagBytes);
  enc.EncryptAndAuthenticate(out.data(), out.data() + plaintext.size(), kAeadTagBytes,
                             nonce.bytes.data(), static_cast<int>(nonce.bytes.size()), ptr(aad),
                             aad.size(), ptr(plaintext), plaintext.size());
  return out;
}

std::optional<Bytes> aead_open(const AeadKey& key, const AeadNonce& nonce, ByteView sealed,
                               ByteView aad) {
  if (sealed.size() < kAeadTagBytes) return std::nullopt;
  const std::size_t n = sealed.size() - kAeadTagBytes;
  try {
    CryptoPP::GCM<CryptoPP::AES>::Decryption dec;
    dec.SetKeyWithIV(key.bytes.data(), key.bytes.size(), nonce.bytes.data(), nonce.bytes.size());
    Bytes out(n);
    CryptoPP::byte scratch = 0;
    bool ok = dec.DecryptAndVerify(n ? out.data() : &scratch, sealed.data() + n, kAeadTagBytes,
                                   nonce.bytes.data(), static_cast<int>(nonce.bytes.size()),
                                   ptr(aad), aad.size(), ptr(sealed), n);
    if (!ok) {
      if (!out.empty()) std::memset(out.data(), 0, out.size());  // never leak unverified plaintext
      return std::nullopt;
    }
    return out;
  } catch (const CryptoPP::Exception&) {
    return std::nullopt;
  }
}

// ---- X25519 + HKDF ---------------------------------------------------------

X25519KeyPair X25519KeyPair::generate() {
  X25519Secret secret;
  secure_random(secret.bytes);
  return from_secret(secret);
}

X25519KeyPair X25519KeyPair::from_secret(const X25519Secret& secret) {
  X25519KeyPair kp;
  kp.secret = secret;
  kp.secret.bytes[0] &= 248;
  kp.secret.bytes[31] &= 127;
  kp.secret.bytes[31] |= 64;
  int rc = CryptoPP::Donna::curve25519_mult(kp.public_key.bytes.data(), kp.secret.bytes.data());
  MHR_ASSERT(rc == 0);
  return kp;
}

std::optional<SharedSecret> x25519_agree(const X25519Secret& mine, const X25519Public& theirs) {
  // Donna clamps the scalar and ignores the top bit of the u-coordinate, as
  // RFC 7748 section 5 prescribes.
  SharedSecret out;
  int rc =
      CryptoPP::Donna::curve25519_mult(out.bytes.data(), mine.bytes.data(), theirs.bytes.data());
  if (rc != 0) return std::nullopt;
  std::uint8_t acc = 0;  // constant-time all-zero check (RFC 7748 section 6.1)
  for (auto b : out.bytes) acc |= b;
  if (acc == 0) return std::nullopt;
  return out;
}

Bytes hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length_bytes) {
  MHR_ASSERT_MSG(length_bytes <= 255 * 32, "hkdf_sha256: output longer than 255 blocks");
  Bytes out(length_bytes);
  if (length_bytes == 0) return out;
  CryptoPP::HKDF<CryptoPP::SHA256> hkdf;
  // A non-null salt of length 0 is the RFC 5869 empty salt (HMAC pads it to
  // HashLen zeros either way).
  hkdf.DeriveKey(out.data(), out.size(), ptr(ikm), ikm.size(), ptr(salt), salt.size(), ptr(info),
                 info.size());
  return out;
}

// ---- Randomness ------------------------------------------------------------

std::uint64_t secure_random_u64() {
  std::uint64_t v = 0;
  secure_random({reinterpret_cast<std::uint8_t*>(&v), sizeof v});
  return v;
}

void secure_random(std::span<std::uint8_t> out) {
  if (out.empty()) return;
  CryptoPP::OS_GenerateRandomBlock(false, out.data(), out.size());
}

namespace {
class Ed25519Verifier final : public Verifier {
 public:
  bool verify(const PublicKey& key, ByteView message, const Signature& sig) const override {
    return ::mhr::verify(key, message, sig);
  }
};
}  // namespace

const Verifier& ed25519_verifier() {
  static const Ed25519Verifier instance;
  return instance;
}

}  // namespace mhr
