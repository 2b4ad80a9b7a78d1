// Who asks: patients, clinicians and institutions are Ed25519 keys. A
// patient's key defines the UserId; every client request carries a
// Credential, the requester's signature over the request and the node it is
// addressed to, so a request cannot be forged or sent to another node.
#pragma once

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "common/types.hpp"

namespace mhr {

// The user a patient key stands for.
UserId user_id_of(const PublicKey& patient_key);

// A request is accepted only this close to the node's clock, and its nonce
// only once within that window: replays of captured requests are refused.
inline constexpr TimeUs kCredentialWindowUs = 5 * 60 * kUsPerSecond;

struct Credential {
  PublicKey key;
  TimeUs time_us = 0;
  std::uint64_t nonce = 0;
  Signature signature;
  bool operator==(const Credential&) const = default;
};

template <>
struct Codec<Credential> {
  static void write(Writer& w, const Credential& v);
  static Credential read(Reader& r);
};

// A credential signs a domain tag, the node, its own time and nonce, and
// the digest of the request without its credential (request_digest): a
// fixed hundred-odd bytes however large the request, so checking one copies
// no payload.
Credential make_credential(const Signer& requester, NodeId node, TimeUs time_us,
                           std::uint64_t nonce, const Hash& request_digest);
bool verify_credential(const Credential& c, NodeId node, const Hash& request_digest,
                       const Verifier& verifier);

}  // namespace mhr
