#include "edge_node/blob_custody.hpp"

#include "common/backoff.hpp"
#include "common/key_wrap.hpp"
#include "common/messages.hpp"

namespace mhr {

BlobCustody::BlobCustody(Env& env, const ProtocolParams& params, const GroupContact& consensus)
    : env_(env), params_(params), consensus_(consensus), blobs_(env.store()) {}

void BlobCustody::load() {
  fetches_.clear();
  staged_.clear();
  overflow_ = false;
  for (const BlobWant& w : blobs_.wants()) {
    if (fetches_.size() >= kMaxBlobWants) {
      overflow_ = true;
      break;
    }
    fetches_[w.ref.hash] = Fetch{w, std::nullopt, {}, 0, 0, env_.now_us()};
  }
}

// ---- uploads ---------------------------------------------------------------------

std::optional<std::string> BlobCustody::upload(const PutBlobRequest& req) {
  WriteBatch b;
  if (req.part == kManifestPart) {
    auto m = decode<BlobManifest>(req.bytes.view());
    if (!m.ok()) return "the manifest does not decode";
    if (auto e = manifest_error(*m, {req.blob, m->size_bytes}, params_.max_blob_bytes)) return *e;
    if (!blobs_.manifest(req.blob)) blobs_.put_manifest(b, req.blob, *m);
  } else {
    auto m = blobs_.manifest(req.blob);
    if (!m) return "send the object's manifest first";
    if (auto e = chunk_error(*m, req.part, req.bytes.view())) return *e;
    if (req.part == 0 && !looks_sealed(req.bytes.view()))
      return "objects are stored encrypted only: seal it with the patient's data key "
             "(docs/ACCESS.md)";
    blobs_.put_chunk(b, req.blob, req.part, req.bytes.view());
  }
  if (!b.empty()) env_.store().write(b);
  return std::nullopt;
}

bool BlobCustody::holds(const OffChainRef& ref) const {
  auto m = blobs_.manifest(ref.hash);
  return m && m->size_bytes == ref.size_bytes && blobs_.missing_parts(ref.hash, *m).empty();
}

// ---- owing objects named by stored records ----------------------------------------------

void BlobCustody::want_in(WriteBatch& batch, const UserId& user, const OffChainRef& ref) {
  if (fetches_.contains(ref.hash) || holds(ref)) return;
  for (const BlobWant& w : staged_)
    if (w.ref.hash == ref.hash) return;
  BlobWant want{user, ref};
  blobs_.put_want(batch, want);
  staged_.push_back(want);
}

bool BlobCustody::start_staged() {
  bool started = false;
  for (BlobWant& w : staged_) {
    if (fetches_.size() >= kMaxBlobWants) {
      overflow_ = true;
      continue;
    }
    const Hash id = w.ref.hash;
    started |=
        fetches_.try_emplace(id, Fetch{std::move(w), std::nullopt, {}, 0, 0, env_.now_us()}).second;
  }
  staged_.clear();
  return started;
}

// ---- answering as a holder ----------------------------------------------------------------

void BlobCustody::on_request(const BlobRequest& req) {
  if (req.route.empty() || req.route.size() > kMaxRouteHops) return;
  BlobPart answer{req.request_id, req.blob, req.part, false, {}, req.route};
  if (req.part == kManifestPart) {
    if (auto m = blobs_.manifest(req.blob)) answer.bytes = SharedBytes(encode(*m));
  } else if (auto c = blobs_.chunk(req.blob, req.part)) {
    answer.bytes = SharedBytes(std::move(*c));
  }
  answer.found = !answer.bytes.empty();
  env_.send(req.route.back(), make_message(std::move(answer)));
}

// ---- fetching as a holder that lacks an object ------------------------------------------------

void BlobCustody::send_request(Fetch& f) {
  f.request_id = env_.random_u64();
  const std::uint32_t part = f.manifest ? f.missing.front() : kManifestPart;
  if (f.attempts == params_.max_attempts) {
    env_.count(Counter::kGaveUp);
    env_.log(LogLevel::kWarn, "off-chain object " + f.want.ref.hash.short_hex() +
                                  " not found yet; still trying (it is owed)");
  }
  // Attempts alternate between a holder here and the other networks, as
  // history rounds do: a local holder may be fetching the object itself.
  env_.send(
      consensus_.leader(),
      make_message(BlobRequest{
          f.request_id, f.want.user, f.want.ref.hash, part, {env_.self()}, f.attempts % 2 == 1}));
  f.next_at_us = env_.now_us() + backoff_us(params_, ++f.attempts);
}

void BlobCustody::on_part(const BlobPart& p) {
  if (p.route.size() != 1 || p.route.back() != env_.self()) return;
  auto it = fetches_.find(p.blob);
  if (it == fetches_.end() || it->second.request_id != p.request_id || !p.found) return;
  Fetch& f = it->second;
  const bool taken = p.part == kManifestPart ? take_manifest(f, p.bytes.view())
                                             : take_chunk(f, p.part, p.bytes.view());
  if (!taken) {
    env_.count(Counter::kVerifyFailures);
    env_.log(LogLevel::kWarn, "a part of off-chain object " + p.blob.short_hex() + " refused");
    return;
  }
  if (f.manifest && f.missing.empty()) {
    finish(p.blob);
    return;
  }
  f.attempts = 0;
  send_request(f);  // the next part at once: this holder answers
}

bool BlobCustody::take_manifest(Fetch& f, ByteView bytes) {
  if (f.manifest) return true;  // a late duplicate
  auto m = decode<BlobManifest>(bytes);
  if (!m.ok() || manifest_error(*m, f.want.ref, kMaxBlobBytesCeiling)) return false;
  WriteBatch b;
  if (!blobs_.manifest(f.want.ref.hash)) blobs_.put_manifest(b, f.want.ref.hash, *m);
  env_.store().write(b);
  const auto missing = blobs_.missing_parts(f.want.ref.hash, *m);
  f.missing.assign(missing.begin(), missing.end());
  f.manifest = std::move(*m);
  return true;
}

bool BlobCustody::take_chunk(Fetch& f, std::uint32_t part, ByteView bytes) {
  if (!f.manifest || f.missing.empty() || f.missing.front() != part) return true;  // not asked now
  if (chunk_error(*f.manifest, part, bytes)) return false;
  WriteBatch b;
  blobs_.put_chunk(b, f.want.ref.hash, part, bytes);
  env_.store().write(b);
  f.missing.pop_front();
  return true;
}

void BlobCustody::finish(const Hash& id) {
  WriteBatch b;
  blobs_.del_want(b, id);
  env_.store().write(b);
  fetches_.erase(id);
  env_.count(Counter::kBlobsFetched);
  if (fetches_.empty() && overflow_) load();
}

TimeUs BlobCustody::on_tick(TimeUs now) {
  TimeUs next = INT64_MAX;
  std::size_t active = 0;
  for (auto& [id, f] : fetches_) {
    if (active++ >= kMaxActiveBlobFetches) break;
    if (f.next_at_us <= now) {
      if (f.attempts > 0) env_.count(Counter::kRetries);
      send_request(f);
    }
    next = std::min(next, f.next_at_us);
  }
  return next;
}

}  // namespace mhr
