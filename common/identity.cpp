#include "common/identity.hpp"

#include "common/chain_store.hpp"

namespace mhr {

namespace {
constexpr std::string_view kUserIdDomain = "mhr-user-key-v1";
constexpr std::string_view kCredentialDomain = "mhr-request-v1";
}  // namespace

UserId user_id_of(const PublicKey& patient_key) {
  return UserId{sha256(as_bytes(kUserIdDomain), patient_key.view())};
}

void Codec<Credential>::write(Writer& w, const Credential& v) {
  w.fixed(v.key);
  MHR_ASSERT(v.time_us >= 0);
  w.varint(static_cast<std::uint64_t>(v.time_us));
  w.varint(v.nonce);
  w.fixed(v.signature);
}

Credential Codec<Credential>::read(Reader& r) {
  Credential v;
  v.key = r.fixed_as<PublicKey>();
  v.time_us = r.time_us();
  v.nonce = r.varint();
  v.signature = r.fixed_as<Signature>();
  return v;
}

Bytes credential_signing_bytes(NodeId node, const Credential& c, ByteView request_bytes) {
  Writer w(64 + request_bytes.size());
  w.str(kCredentialDomain);
  w.varint(node.value);
  w.fixed(c.key);
  w.varint(static_cast<std::uint64_t>(c.time_us));
  w.varint(c.nonce);
  w.bytes(request_bytes);
  return w.take();
}

Credential make_credential(const Signer& requester, NodeId node, TimeUs time_us,
                           std::uint64_t nonce, ByteView request_bytes) {
  Credential c{requester.public_key(), time_us, nonce, {}};
  c.signature = requester.sign(credential_signing_bytes(node, c, request_bytes));
  return c;
}

bool verify_credential(const Credential& c, NodeId node, ByteView request_bytes,
                       const Verifier& verifier) {
  if (c.time_us < 0) return false;
  return verifier.verify(c.key, credential_signing_bytes(node, c, request_bytes), c.signature);
}

}  // namespace mhr
