#include "common/key_wrap.hpp"

#include <algorithm>

namespace mhr {

namespace {
constexpr std::string_view kBoxKeyInfo = "mhr-box-key-v1";
constexpr std::string_view kDataKeyInfo = "mhr-data-key-v1";
constexpr std::string_view kWrapInfo = "mhr-key-wrap-v1";
constexpr std::string_view kPayloadAad = "mhr-payload-v1";

template <class F>
F random_fixed() {
  F f;
  secure_random(f.bytes);
  return f;
}

template <class F>
F derive(ByteView ikm, std::string_view info, ByteView salt = {}) {
  const Bytes out = hkdf_sha256(ikm, salt, as_bytes(info), F::kSize);
  return F{FixedBytes<F::kSize>::from_view(out)};
}

Bytes concat(ByteView a, ByteView b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// The key that seals a data key for `recipient` from an ephemeral key.
AeadKey wrap_key(const SharedSecret& shared, const X25519Public& ephemeral,
                 const X25519Public& recipient) {
  return derive<AeadKey>(shared.view(), kWrapInfo, concat(ephemeral.view(), recipient.view()));
}
}  // namespace

X25519KeyPair box_keys_of(const SecretSeed& sign_seed) {
  return X25519KeyPair::from_secret(derive<X25519Secret>(sign_seed.view(), kBoxKeyInfo));
}

AeadKey data_key_of(const SecretSeed& patient_seed) {
  return derive<AeadKey>(patient_seed.view(), kDataKeyInfo);
}

// sealed = ephemeral public key (32) || nonce (12) || AES-GCM(data key) (48)
WrappedKey seal_data_key(const AeadKey& data_key, const X25519Public& recipient) {
  const X25519KeyPair ephemeral = X25519KeyPair::generate();
  auto shared = x25519_agree(ephemeral.secret, recipient);
  MHR_ASSERT_MSG(shared.has_value(), "sealing for a low-order X25519 key");
  const AeadNonce nonce = random_fixed<AeadNonce>();
  const Bytes ct = aead_seal(wrap_key(*shared, ephemeral.public_key, recipient), nonce,
                             data_key.view(), recipient.view());
  WrappedKey w{recipient, concat(ephemeral.public_key.view(), nonce.view())};
  w.sealed.insert(w.sealed.end(), ct.begin(), ct.end());
  return w;
}

std::optional<AeadKey> open_data_key(const WrappedKey& wrapped, const X25519KeyPair& mine) {
  constexpr std::size_t kSize =
      X25519Public::kSize + AeadNonce::kSize + AeadKey::kSize + kAeadTagBytes;
  if (wrapped.recipient != mine.public_key || wrapped.sealed.size() != kSize) return std::nullopt;
  const ByteView in(wrapped.sealed);
  const auto ephemeral = X25519Public{FixedBytes<32>::from_view(in.subspan(0, 32))};
  const auto nonce = AeadNonce{FixedBytes<12>::from_view(in.subspan(32, 12))};
  auto shared = x25519_agree(mine.secret, ephemeral);
  if (!shared) return std::nullopt;
  auto key = aead_open(wrap_key(*shared, ephemeral, mine.public_key), nonce, in.subspan(44),
                       mine.public_key.view());
  if (!key || key->size() != AeadKey::kSize) return std::nullopt;
  return AeadKey{FixedBytes<32>::from_view(*key)};
}

Bytes seal_payload(const AeadKey& data_key, const UserId& user, ByteView plaintext) {
  const AeadNonce nonce = random_fixed<AeadNonce>();
  const Bytes aad = concat(as_bytes(kPayloadAad), user.view());
  Bytes out = concat(as_bytes(kSealedPayloadMagic), nonce.view());
  const Bytes ct = aead_seal(data_key, nonce, plaintext, aad);
  out.insert(out.end(), ct.begin(), ct.end());
  return out;
}

std::optional<Bytes> open_payload(const AeadKey& data_key, const UserId& user, ByteView sealed) {
  if (!looks_sealed(sealed)) return std::nullopt;
  const ByteView rest = sealed.subspan(kSealedPayloadMagic.size());
  const auto nonce = AeadNonce{FixedBytes<12>::from_view(rest.subspan(0, AeadNonce::kSize))};
  return aead_open(data_key, nonce, rest.subspan(AeadNonce::kSize),
                   concat(as_bytes(kPayloadAad), user.view()));
}

bool looks_sealed(ByteView payload) {
  const ByteView magic = as_bytes(kSealedPayloadMagic);
  return payload.size() >= kSealedPayloadOverheadBytes &&
         std::equal(magic.begin(), magic.end(), payload.begin());
}

}  // namespace mhr
