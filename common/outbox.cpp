#include "common/outbox.hpp"

#include "common/backoff.hpp"
#include "common/chain_store.hpp"

namespace mhr {

namespace {
Bytes outbox_key(std::uint8_t tag, NodeId to, const Hash& h) {
  Bytes id;
  append_be32(id, to.value);
  id.insert(id.end(), h.bytes.begin(), h.bytes.end());
  return tagged_key(tag, id);
}
}  // namespace

void Outbox::load() {
  env_.store().scan_prefix(Table::kPending, Bytes{tag_}, [&](ByteView key, ByteView value) {
    MHR_ASSERT_MSG(key.size() == 1 + 4 + Hash::kSize, "stored outbox key is malformed");
    NodeId to{read_be32(key.subspan(1))};
    auto m = decode<Message>(value);
    MHR_ASSERT_MSG(m.ok(), "stored outbox message does not decode");
    pending_[{to, Hash::from_view(key.subspan(5))}] = {to, make_message(std::move(m).value()), 0,
                                                       env_.now_us()};
    return true;
  });
}

Hash Outbox::send(NodeId to, const Message& message) {
  Bytes encoded = encode(message);
  Hash h = sha256(encoded);
  if (pending_.contains({to, h})) return h;
  WriteBatch b;
  b.put(Table::kPending, outbox_key(tag_, to, h), encoded);
  env_.store().write(b);
  Pending& p = pending_[{to, h}] = {to, make_message(Message(message)), 0, 0};
  transmit(p);
  return h;
}

void Outbox::on_ack(NodeId from, const Ack& ack) {
  if (group_ && group_->is_replica(from)) from = group_->group();
  if (pending_.erase({from, ack.message_hash}) == 0) return;
  WriteBatch b;
  b.del(Table::kPending, outbox_key(tag_, from, ack.message_hash));
  env_.store().write(b);
}

void Outbox::transmit(Pending& p) {
  NodeId to = p.to;
  if (group_ && to == group_->group()) {
    if (p.attempts > 0) group_->suspect(env_.now_us(), params_.retry_timeout_us);
    to = group_->leader();
  }
  env_.send(to, p.message);
  // Receivers may be down for long: keep trying at the ceiling, never drop.
  p.attempts = std::min(p.attempts + 1, params_.max_attempts);
  p.next_at_us = env_.now_us() + backoff_us(params_, p.attempts);
}

TimeUs Outbox::on_tick() {
  const TimeUs now = env_.now_us();
  TimeUs next = INT64_MAX;
  for (auto& [h, p] : pending_) {
    if (p.next_at_us <= now) {
      env_.count(Counter::kRetries);
      transmit(p);
    }
    next = std::min(next, p.next_at_us);
  }
  return next;
}

}  // namespace mhr
