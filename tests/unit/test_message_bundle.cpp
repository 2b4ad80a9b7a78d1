// Bundles: the frame of a turn's messages to one peer decodes to the same
// messages in order, respects its size limit, and is refused whole when any
// part of it is malformed.
#include <doctest/doctest.h>

#include "common/message_bundle.hpp"
#include "sample_data.hpp"

using namespace mhr;

namespace {

std::vector<Message> some_messages(std::size_t n) {
  const KeyPair author = test::key_from_byte(1);
  std::vector<Message> out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      out.emplace_back(StoreRequest{
          test::sample_record(author, test::user_from_byte(0xA1), i, Hash{}, std::to_string(i))});
    } else {
      out.emplace_back(PresenceQuery{test::user_from_byte(static_cast<std::uint8_t>(i)), Hash{}});
    }
  }
  return out;
}

Bytes bundle_of(const std::vector<Message>& ms, std::size_t max_bytes = 1 << 20) {
  BundleWriter w(max_bytes);
  for (const Message& m : ms) w.add(encode(m));
  return w.take();
}

}  // namespace

TEST_CASE("bundle: messages come back in order") {
  const auto ms = some_messages(9);
  auto back = decode_bundle(bundle_of(ms));
  REQUIRE(back.ok());
  CHECK(back.value() == ms);
}

TEST_CASE("bundle: the writer keeps within its limit and starts anew after take") {
  const auto ms = some_messages(10);
  const std::size_t one = BundleWriter::single_size(encode(ms[0]).size());
  BundleWriter w(one * 2 + 1);
  CHECK(w.fits(encode(ms[0]).size()));
  w.add(encode(ms[0]));
  w.add(encode(ms[2]));
  CHECK_FALSE(w.fits(encode(ms[4]).size()));
  const Bytes first = w.take();
  CHECK(first.size() <= one * 2 + 1);
  CHECK(w.empty());
  w.add(encode(ms[4]));
  auto back = decode_bundle(w.take());
  REQUIRE(back.ok());
  CHECK(back.value() == std::vector<Message>{ms[4]});
}

TEST_CASE("bundle: written straight into a frame, it is the writer's bundle") {
  const auto ms = some_messages(7);
  std::vector<MessagePtr> ptrs;
  std::vector<std::size_t> sizes;
  std::size_t total = 0;
  for (const Message& m : ms) {
    ptrs.push_back(std::make_shared<const Message>(m));
    sizes.push_back(encoded_size(m));
    CHECK(sizes.back() == encode(m).size());
    total += BundleWriter::single_size(sizes.back());
  }
  Bytes frame(total, 0xEE);
  write_bundle(frame, ptrs, sizes);
  CHECK(frame == bundle_of(ms));
}

TEST_CASE("bundle: decoded with its frame's owner, payloads borrow the frame") {
  const auto ms = some_messages(4);
  auto frame = std::make_shared<const Bytes>(bundle_of(ms));
  const std::weak_ptr<const Bytes> watch = frame;
  auto back = decode_bundle(*frame, frame);
  REQUIRE(back.ok());
  CHECK(back.value() == ms);
  const ByteView payload = std::get<StoreRequest>(back.value()[0]).record.payload.view();
  REQUIRE_FALSE(payload.empty());
  CHECK(payload.data() >= frame->data());  // inside the frame: no copy
  CHECK(payload.data() + payload.size() <= frame->data() + frame->size());
  frame.reset();
  CHECK_FALSE(watch.expired());         // held by the payloads
  back = decode_bundle(bundle_of(ms));  // without an owner: copies
  CHECK(watch.expired());
  CHECK(back.value() == ms);
}

TEST_CASE("bundle: empty, cut, padded or corrupted frames are refused whole") {
  const auto ms = some_messages(5);
  const Bytes good = bundle_of(ms);
  CHECK(decode_bundle(Bytes{}).error() == DecodeError::kTruncated);
  Bytes cut(good.begin(), good.end() - 3);
  CHECK_FALSE(decode_bundle(cut).ok());
  Bytes padded = good;
  padded.push_back(0);
  CHECK_FALSE(decode_bundle(padded).ok());
  // An unknown message type inside: the last message's type byte follows
  // its length prefix and the version byte.
  const Bytes last = encode(ms[4]);
  Bytes bad = good;
  bad[good.size() - last.size() + 1] = 0xEE;
  CHECK_FALSE(decode_bundle(bad).ok());
}

TEST_CASE("bundle: at most kMaxBundleMessages messages") {
  const Bytes one = encode(Message{PresenceQuery{test::user_from_byte(1), Hash{}}});
  Writer w;
  for (std::size_t i = 0; i <= kMaxBundleMessages; ++i) w.bytes(one);
  CHECK(decode_bundle(w.take()).error() == DecodeError::kOversize);
  BundleWriter limited(1 << 30);
  for (std::size_t i = 0; i < kMaxBundleMessages; ++i) limited.add(one);
  CHECK_FALSE(limited.fits(one.size()));
}
