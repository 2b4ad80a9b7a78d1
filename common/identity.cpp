#include "common/identity.hpp"

#include "common/chain_store.hpp"

namespace mhr {

namespace {
constexpr std::string_view kUserIdDomain = "mhr-user-key-v1";
constexpr std::string_view kCredentialDomain = "mhr-request-v2";
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

namespace {

void write_credential_signing(Writer& w, NodeId node, const Credential& c,
                              const Hash& request_digest) {
  w.str(kCredentialDomain);
  w.varint(node.value);
  w.fixed(c.key);
  w.varint(static_cast<std::uint64_t>(c.time_us));
  w.varint(c.nonce);
  w.fixed(request_digest);
}

// In a buffer of the thread's, kept from call to call: a request checked or
// signed allocates nothing for it.
ByteView credential_signing_view(NodeId node, const Credential& c, const Hash& request_digest) {
  thread_local Bytes scratch;
  return write_into(scratch,
                    [&](Writer& w) { write_credential_signing(w, node, c, request_digest); });
}

}  // namespace

Credential make_credential(const Signer& requester, NodeId node, TimeUs time_us,
                           std::uint64_t nonce, const Hash& request_digest) {
  Credential c{requester.public_key(), time_us, nonce, {}};
  c.signature = requester.sign(credential_signing_view(node, c, request_digest));
  return c;
}

bool verify_credential(const Credential& c, NodeId node, const Hash& request_digest,
                       const Verifier& verifier) {
  if (c.time_us < 0) return false;
  return verifier.verify(c.key, credential_signing_view(node, c, request_digest), c.signature);
}

}  // namespace mhr
