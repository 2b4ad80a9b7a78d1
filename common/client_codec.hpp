// Wire encoding of client requests and replies (what ZmqClient and a record
// node exchange), with the same canonical, bounds-checked codec as messages.
#pragma once

#include "common/client_api.hpp"
#include "common/codec.hpp"

namespace mhr {

inline constexpr std::size_t kMaxReplyRecords = 100'000;
inline constexpr std::size_t kMaxDetailBytes = 4'096;
inline constexpr std::size_t kMaxReplyAuditEntries = 100'000;

// A request or reply on the wire, tagged with the client's request id.
struct ClientRequestFrame {
  ClientRequestId id = 0;
  ClientRequest request;
  bool operator==(const ClientRequestFrame&) const = default;
};
struct ClientReplyFrame {
  ClientRequestId id = 0;
  ClientReply reply;
  bool operator==(const ClientReplyFrame&) const = default;
};

template <>
struct Codec<ClientRequestFrame> {
  static void write(Writer& w, const ClientRequestFrame& v);
  static ClientRequestFrame read(Reader& r);
};
template <>
struct Codec<ClientReplyFrame> {
  static void write(Writer& w, const ClientReplyFrame& v);
  static ClientReplyFrame read(Reader& r);
};

// What a request's credential signs: the SHA-256 of its tag and body
// without the credential, hashed as it is encoded (no buffer).
Hash request_digest(const ClientRequest& request);

// Fills in the request's credential as `requester`, for node `node`. A
// patient statement carries its own signature and is left as it is.
void sign_request(ClientRequest& request, const Signer& requester, NodeId node, TimeUs now_us,
                  std::uint64_t nonce);

}  // namespace mhr
