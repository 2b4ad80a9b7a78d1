// Payload encryption, done by clients and never by nodes: a patient's data
// key (AES-256-GCM) seals every payload of the patient, and is itself sealed
// (X25519 + HKDF-SHA256 + AES-256-GCM) for each party entitled to read.
// Record nodes store and serve only what comes out of here.
#pragma once

#include <optional>

#include "common/consent.hpp"
#include "common/crypto.hpp"

namespace mhr {

// Every party's X25519 key pair derives from its Ed25519 seed, so one key
// file serves to sign and to open sealed keys.
X25519KeyPair box_keys_of(const SecretSeed& sign_seed);

// A patient's data key derives from the patient's seed: the patient's
// client never has to fetch it before sharing it with a new institution.
AeadKey data_key_of(const SecretSeed& patient_seed);

WrappedKey seal_data_key(const AeadKey& data_key, const X25519Public& recipient);
std::optional<AeadKey> open_data_key(const WrappedKey& wrapped, const X25519KeyPair& mine);

// A sealed payload: a magic prefix, a 12-byte nonce, then ciphertext and tag;
// bound to the user so it cannot be moved to another patient's timeline.
inline constexpr std::string_view kSealedPayloadMagic = "mhr-aead-1";
inline constexpr std::size_t kSealedPayloadOverheadBytes =
    kSealedPayloadMagic.size() + AeadNonce::kSize + kAeadTagBytes;
Bytes seal_payload(const AeadKey& data_key, const UserId& user, ByteView plaintext);
std::optional<Bytes> open_payload(const AeadKey& data_key, const UserId& user, ByteView sealed);
// What a node checks: the payload is framed as sealed (it cannot tell more).
bool looks_sealed(ByteView payload);

}  // namespace mhr
