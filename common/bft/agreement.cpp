#include "common/bft/agreement.hpp"

#include <algorithm>

namespace mhr {

namespace {

// Votes for heights or views not reached yet, kept per replica until then.
constexpr std::size_t kLaterVotesPerReplica = 8;
// Distinct (view, header) pairs votes are counted for at one height: honest
// replicas make one or two per view; more is a Byzantine replica's noise.
constexpr std::size_t kVoteKeysPerReplica = 16;

void drop_body(ViewChange& vc) {
  vc.body = SharedBytes();
}

}  // namespace

std::size_t bft_quorum(std::size_t n) {
  MHR_ASSERT(n >= 1);
  const std::size_t f = (n - 1) / 3;
  return (n + f) / 2 + 1;
}

Bytes prepare_signing_bytes(NetworkId network, std::uint64_t view, std::uint64_t height,
                            const Hash& header_hash) {
  Writer w(96);
  w.str("mhr-prepare-v1");
  w.varint(network.value);
  w.varint(view);
  w.varint(height);
  w.fixed(header_hash);
  return w.take();
}

Bytes suspect_signing_bytes(NetworkId network, std::uint64_t view) {
  Writer w(48);
  w.str("mhr-suspect-v1");
  w.varint(network.value);
  w.varint(view);
  return w.take();
}

Agreement::Agreement(GroupConfig config, const Signer& signer, const Verifier& verifier)
    : config_(std::move(config)), signer_(signer), verifier_(verifier) {
  MHR_ASSERT(!config_.replicas.empty() && config_.replicas.size() <= kMaxGroupReplicas);
  MHR_ASSERT(config_.quorum >= 1 && config_.quorum <= config_.replicas.size());
  MHR_ASSERT(is_replica(config_.self));
  MHR_ASSERT(config_.body_matches);
  validators_.members = config_.replicas;
  validators_.quorum = config_.quorum;
}

// ---- state ------------------------------------------------------------------------

void Agreement::load(const std::optional<SignedHeader>& tip, std::optional<ByteView> durable) {
  committed_ = tip;
  next_height_ = tip ? tip->header.height + 1 : 0;
  view_ = tip ? tip->view : 0;
  active_ = true;
  if (!durable) return;
  Reader r(*durable);
  r.version();
  const std::uint64_t view = r.varint();
  const bool active = r.boolean();
  const std::uint64_t height = r.varint();
  std::optional<VoteKey> prepare_sent;
  if (r.boolean()) {
    const std::uint64_t v = r.varint();
    prepare_sent = VoteKey{v, r.fixed_as<Hash>()};
  }
  std::optional<Constraint> constraint;
  if (r.boolean()) {
    Constraint c;
    c.view = r.varint();
    c.height = r.varint();
    if (r.boolean()) c.hash = r.fixed_as<Hash>();
    constraint = c;
  }
  std::optional<PreparedCert> prepared;
  SharedBytes body;
  if (r.boolean()) {
    prepared = Codec<PreparedCert>::read(r);
    body = SharedBytes(r.bytes(kMaxMessageBytes));
  }
  std::optional<Proposal> proposal;
  if (r.boolean()) {
    auto m = decode<Message>(r.bytes(kMaxMessageBytes));
    MHR_ASSERT_MSG(m.ok() && std::holds_alternative<Proposal>(m.value()),
                   "stored own proposal does not decode");
    proposal = std::get<Proposal>(std::move(m).value());
  }
  std::optional<Proposal> next_proposal;
  if (r.remaining() > 0 && r.boolean()) {  // absent in stores written before pipelining
    auto m = decode<Message>(r.bytes(kMaxMessageBytes));
    MHR_ASSERT_MSG(m.ok() && std::holds_alternative<Proposal>(m.value()),
                   "stored next proposal does not decode");
    next_proposal = std::get<Proposal>(std::move(m).value());
  }
  MHR_ASSERT_MSG(!r.finish_error(), "stored agreement state does not decode");
  if (view > view_ || (view == view_ && !active)) {
    view_ = view;
    active_ = active;
  }
  if (height == next_height_) {
    prepare_sent_ = prepare_sent;
    if (prepared && prepared->header.height == next_height_) {
      prepared_ = std::move(prepared);
      prepared_body_ = std::move(body);
    }
    // A leader proposes one block per height and view, also across a
    // restart: the one it sent is in flight again, never another.
    if (proposal && proposal->header.height == next_height_ && proposal->view == view_) {
      record_proposal(proposal->view, Proposed{proposal->header, header_hash(proposal->header),
                                               proposal->body, proposal->prepare});
      sent_proposal_ = std::move(proposal);
    }
    if (next_proposal && next_proposal->header.height == next_height_ + 1 &&
        next_proposal->view == view_)
      next_proposal_ = std::move(next_proposal);
  }
  if (constraint && constraint->height >= next_height_) constraint_ = constraint;
}

Bytes Agreement::durable() const {
  Writer w;
  w.u8(kCodecVersion);
  w.varint(view_);
  w.boolean(active_);
  w.varint(next_height_);
  w.boolean(prepare_sent_.has_value());
  if (prepare_sent_) {
    w.varint(prepare_sent_->first);
    w.fixed(prepare_sent_->second);
  }
  w.boolean(constraint_.has_value());
  if (constraint_) {
    w.varint(constraint_->view);
    w.varint(constraint_->height);
    w.boolean(constraint_->hash.has_value());
    if (constraint_->hash) w.fixed(*constraint_->hash);
  }
  w.boolean(prepared_.has_value());
  if (prepared_) {
    Codec<PreparedCert>::write(w, *prepared_);
    w.bytes(prepared_body_.view());
  }
  w.boolean(sent_proposal_.has_value());
  if (sent_proposal_) w.bytes(encode(Message{*sent_proposal_}));
  w.boolean(next_proposal_.has_value());
  if (next_proposal_) w.bytes(encode(Message{*next_proposal_}));
  return w.take();
}

NodeId Agreement::leader_of(std::uint64_t view) const {
  return config_.replicas[view % size()].node;
}

const PublicKey* Agreement::key_of(NodeId node) const {
  for (const auto& m : config_.replicas)
    if (m.node == node) return &m.key;
  return nullptr;
}

bool Agreement::is_replica(NodeId node) const {
  return key_of(node) != nullptr;
}

bool Agreement::can_propose() const {
  if (!leading() || in_flight() || repropose_) return false;
  // A leader below its view's first height fetches the blocks first (the
  // NewView shows they were committed; proposing there would fork).
  if (constraint_ && constraint_->view == view_ && next_height_ < constraint_->height) return false;
  // The first height of a view that must carry a prepared block waits for it.
  return !(constraint_ && constraint_->view == view_ && constraint_->height == next_height_ &&
           constraint_->hash);
}

const BlockHeader* Agreement::in_flight_header() const {
  auto it = proposals_.find(view_);
  return it == proposals_.end() ? nullptr : &it->second.header;
}

bool Agreement::can_propose_next() const {
  // Prepared here (this replica voted to commit it): f+1 honest replicas
  // will vote for the next block once this one commits at them.
  return config_.pipeline && size() > 1 && leading() && in_flight() && commit_sent_ == view_ &&
         !next_proposal_;
}

Agreement::Output Agreement::take() {
  Output o = std::move(out_);
  out_ = Output{};
  if (size() == 1) o.persist = false;  // nothing to vote twice on: no state worth keeping
  return o;
}

// ---- normal case -------------------------------------------------------------------

Agreement::Output Agreement::propose(const BlockHeader& header, SharedBytes body,
                                     std::uint64_t delivered_below) {
  MHR_ASSERT(can_propose());
  propose_now(header, std::move(body), delivered_below);
  return take();
}

void Agreement::propose_now(const BlockHeader& header, SharedBytes body,
                            std::uint64_t delivered_below) {
  MHR_ASSERT(header.height == next_height_ && header.network == config_.network);
  Proposed p{header, header_hash(header), std::move(body), Signature{}};
  // A single replica's prepare is never shown to anyone: not worth signing.
  if (size() > 1)
    p.prepare = signer_.sign(prepare_signing_bytes(config_.network, view_, next_height_, p.hash));
  Proposal message{view_, header, p.body, p.prepare, delivered_below};
  record_proposal(view_, p);
  prepare_sent_ = VoteKey{view_, p.hash};
  out_.persist = true;
  out_.proposed = message;
  sent_proposal_ = message;
  if (size() > 1) send(std::nullopt, std::move(message));
  progress();
}

Agreement::Output Agreement::propose_next(const BlockHeader& header, SharedBytes body,
                                          std::uint64_t delivered_below) {
  MHR_ASSERT(can_propose_next());
  MHR_ASSERT(header.height == next_height_ + 1 && header.network == config_.network);
  MHR_ASSERT(header.prev_hash == proposals_.at(view_).hash);
  const Hash hash = header_hash(header);
  Proposal message{view_, header, std::move(body),
                   signer_.sign(prepare_signing_bytes(config_.network, view_, header.height, hash)),
                   delivered_below};
  next_proposal_ = message;
  out_.persist = true;
  send(std::nullopt, std::move(message));
  return take();
}

void Agreement::record_proposal(std::uint64_t view, const Proposed& p) {
  proposals_[view] = p;
  insert_signature(prepares_[{view, p.hash}], {leader_of(view), p.prepare});
}

Agreement::Verdict Agreement::check_proposal(NodeId from, const Proposal& p) {
  const BlockHeader& h = p.header;
  if (h.network != config_.network || from != leader_of(p.view) || from == config_.self)
    return Verdict::kIgnore;
  if (p.view < view_ || h.height < next_height_) return Verdict::kIgnore;
  if (p.view > view_ || !active_ || h.height > next_height_) {
    // Keeps the latest such proposal; the caller fetches what it lacks.
    if (!later_proposal_ || later_proposal_->second.view < p.view ||
        (later_proposal_->second.view == p.view &&
         later_proposal_->second.header.height <= h.height))
      later_proposal_ = {from, p};
    return Verdict::kLater;
  }
  if (proposals_.contains(p.view)) return Verdict::kIgnore;  // a duplicate, or equivocation
  const Hash tip = committed_ ? header_hash(committed_->header) : Hash{};
  if (h.prev_hash != tip) return Verdict::kIgnore;
  // The NewView showed a commit certificate below its first height: what
  // was decided there stays (this replica fetches it), and no block of this
  // view may take its place.
  if (constraint_ && constraint_->view == p.view && h.height < constraint_->height)
    return Verdict::kIgnore;
  const Hash hash = header_hash(h);
  if (constraint_ && constraint_->view == p.view && constraint_->height == h.height &&
      constraint_->hash && *constraint_->hash != hash)
    return Verdict::kIgnore;  // the NewView fixed another block here
  if (!verifier_.verify(*key_of(from),
                        prepare_signing_bytes(config_.network, p.view, h.height, hash), p.prepare))
    return Verdict::kIgnore;
  return Verdict::kCheckBody;
}

Agreement::Output Agreement::accept_proposal(const Proposal& p) {
  MHR_ASSERT(p.view == view_ && active_ && p.header.height == next_height_);
  const Proposed proposed{p.header, header_hash(p.header), p.body, p.prepare};
  record_proposal(p.view, proposed);
  // After a restart the durable prepare forbids another block in this view.
  if (!prepare_sent_ || prepare_sent_->first != p.view || prepare_sent_->second == proposed.hash)
    vote(VotePhase::kPrepare, p.view, proposed.hash);
  progress();
  return take();
}

std::optional<std::pair<NodeId, Proposal>> Agreement::take_later_proposal() {
  if (!later_proposal_) return std::nullopt;
  const Proposal& p = later_proposal_->second;
  if (p.view < view_ || p.header.height < next_height_) {
    later_proposal_.reset();
    return std::nullopt;
  }
  if (p.view != view_ || !active_ || p.header.height != next_height_) return std::nullopt;
  auto out = std::move(later_proposal_);
  later_proposal_.reset();
  return out;
}

void Agreement::vote(VotePhase phase, std::uint64_t view, const Hash& hash) {
  Vote v{phase, view, next_height_, hash, Signature{}};
  if (phase == VotePhase::kPrepare) {
    if (size() > 1)
      v.signature = signer_.sign(prepare_signing_bytes(config_.network, view, next_height_, hash));
    insert_signature(prepares_[{view, hash}], {config_.self, v.signature});
    prepare_sent_ = VoteKey{view, hash};
    out_.persist = true;
  } else {
    v.signature = signer_.sign(header_signing_bytes(hash, view));
    insert_signature(commits_[{view, hash}], {config_.self, v.signature});
    commit_sent_ = view;
  }
  sent_votes_.push_back(v);
  if (size() > 1) send(std::nullopt, v);
}

std::optional<Agreement::Output> Agreement::on_message(NodeId from, const Message& m) {
  if (const auto* v = std::get_if<Vote>(&m)) return on_vote(from, *v);
  if (const auto* vc = std::get_if<ViewChange>(&m)) return on_view_change(from, *vc);
  if (const auto* nv = std::get_if<NewView>(&m)) return on_new_view(from, *nv);
  return std::nullopt;
}

Agreement::Output Agreement::on_vote(NodeId from, const Vote& v) {
  if (from == config_.self || !is_replica(from)) return take();
  if (v.phase == VotePhase::kSuspect) {
    on_suspect(from, v);
    return take();
  }
  if (v.height < next_height_) return take();
  if (v.height > next_height_) {
    keep_later_vote(from, v);
    // It has moved on: this replica missed a commit, unless it only has
    // yet to hear the votes for the block in flight (votes for the block
    // proposed above it come early).
    if (v.height > next_height_ + 1 || !in_flight()) out_.fetch_from = from;
    return take();
  }
  if (add_vote(from, v)) progress();
  return take();
}

// A vote for a later height, kept until this replica gets there: once per
// replica and vote, the oldest of a replica's going first when it has too
// many (votes for the block proposed above the one in flight come early and
// are sent again on every resend; a full list refusing new ones lost the
// ones that mattered).
void Agreement::keep_later_vote(NodeId from, const Vote& v) {
  std::size_t mine = 0;
  auto oldest = later_votes_.end();
  for (auto it = later_votes_.begin(); it != later_votes_.end(); ++it) {
    if (it->first != from) continue;
    if (it->second == v) return;
    if (mine++ == 0) oldest = it;
  }
  if (mine >= kLaterVotesPerReplica) later_votes_.erase(oldest);
  later_votes_.emplace_back(from, v);
}

// Counts a verified vote at the next height; false when it adds nothing.
bool Agreement::add_vote(NodeId from, const Vote& v) {
  auto& votes = v.phase == VotePhase::kPrepare ? prepares_ : commits_;
  const VoteKey key{v.view, v.header_hash};
  if (!votes.contains(key) && votes.size() >= kVoteKeysPerReplica * size()) return false;
  const Bytes message =
      v.phase == VotePhase::kPrepare
          ? prepare_signing_bytes(config_.network, v.view, v.height, v.header_hash)
          : header_signing_bytes(v.header_hash, v.view);
  if (!verifier_.verify(*key_of(from), message, v.signature)) return false;
  return insert_signature(votes[key], {from, v.signature});
}

void Agreement::progress() {
  // Prepared in this view: commit to it.
  if (active_) {
    if (auto it = proposals_.find(view_); it != proposals_.end()) {
      const Proposed& p = it->second;
      const auto& sigs = prepares_[{view_, p.hash}];
      if (sigs.size() >= config_.quorum && commit_sent_ != view_) {
        prepared_ = PreparedCert{view_, p.header, sigs};
        prepared_body_ = p.body;
        out_.persist = true;
        vote(VotePhase::kCommit, view_, p.hash);
      }
    }
  }
  // 2f+1 commit signatures of one view: the block is decided.
  for (const auto& [key, sigs] : commits_) {
    if (sigs.size() < config_.quorum) continue;
    const Hash hash = key.second;
    const BlockHeader* header = nullptr;
    SharedBytes body;
    for (const auto& [view, p] : proposals_) {
      if (p.hash == hash) {
        header = &p.header;
        body = p.body;
      }
    }
    if (!header && prepared_ && header_hash(prepared_->header) == hash) {
      header = &prepared_->header;
      body = prepared_body_;
    }
    if (!header) {  // decided without this replica seeing it: fetch it
      for (const HeaderSignature& s : sigs)
        if (s.signer != config_.self) out_.fetch_from = s.signer;
      continue;
    }
    decide(SignedHeader{*header, sigs, key.first}, std::move(body));
    return;
  }
}

void Agreement::decide(const SignedHeader& qc, SharedBytes body) {
  MHR_ASSERT(out_.committed.empty() ||
             out_.committed.back().header.header.height + 1 == qc.header.height);
  out_.committed.push_back(Decision{qc, std::move(body)});
  advance(qc);
}

void Agreement::advance(const SignedHeader& header) {
  MHR_ASSERT(header.header.height == next_height_);
  committed_ = header;
  next_height_ = header.header.height + 1;
  proposals_.clear();
  prepares_.clear();
  commits_.clear();
  prepare_sent_.reset();
  commit_sent_.reset();
  prepared_.reset();
  prepared_body_ = SharedBytes();
  sent_proposal_.reset();
  sent_votes_.clear();
  failed_views_ = 0;
  out_.persist = true;
  if (constraint_ && constraint_->height < next_height_) constraint_.reset();
  // A certificate of a later view shows that view began: 2f+1 replicas voted in it.
  if (header.view > view_ || (header.view == view_ && !active_)) enter_view(header.view, {});
  promote_next_proposal();
  auto later = std::move(later_votes_);
  later_votes_.clear();
  bool added = false;
  for (auto& [from, v] : later) {
    if (v.height == next_height_) {
      added = add_vote(from, v) || added;
    } else if (v.height > next_height_) {
      later_votes_.emplace_back(from, v);
    }
  }
  repropose_if_due();
  if (added) progress();
}

// The block proposed while the one below committed is in flight now (its
// votes, kept as later ones, count next); in another view, or above
// another block, it lapses.
void Agreement::promote_next_proposal() {
  if (!next_proposal_) return;
  Proposal p = std::move(*next_proposal_);
  next_proposal_.reset();
  const Hash tip = committed_ ? header_hash(committed_->header) : Hash{};
  if (p.view != view_ || !leading() || p.header.height != next_height_ || p.header.prev_hash != tip)
    return;
  const Proposed proposed{p.header, header_hash(p.header), p.body, p.prepare};
  record_proposal(view_, proposed);
  prepare_sent_ = VoteKey{view_, proposed.hash};
  out_.proposed = p;
  sent_proposal_ = std::move(p);
}

Agreement::Output Agreement::on_caught_up(const SignedHeader& header) {
  advance(header);
  return take();
}

// ---- view change -------------------------------------------------------------------

Agreement::Output Agreement::on_timeout() {
  if (!active_) {
    ask_view(view_ + 1);
    return take();
  }
  Vote v{VotePhase::kSuspect, view_, next_height_, Hash{},
         signer_.sign(suspect_signing_bytes(config_.network, view_))};
  sent_suspect_ = v;
  suspects_.insert(config_.self);
  send(std::nullopt, v);
  if (suspects_.size() >= f() + 1) {
    ask_view(view_ + 1);
  } else {
    join_later_view();
  }
  return take();
}

void Agreement::on_suspect(NodeId from, const Vote& v) {
  if (v.view < view_) {
    // It suspects a view the group has left (it missed the view change,
    // and an idle group sends it nothing else): the NewView brings it
    // along (group sweep, seed 2191).
    if (leading() && new_view_) send(from, *new_view_);
    return;
  }
  if (!active_ || v.view != view_ ||
      !verifier_.verify(*key_of(from), suspect_signing_bytes(config_.network, v.view), v.signature))
    return;
  suspects_.insert(from);
  if (suspects_.size() >= f() + 1) ask_view(view_ + 1);
}

void Agreement::ask_view(std::uint64_t target) {
  MHR_ASSERT(target > view_);
  view_ = target;
  active_ = false;
  ++failed_views_;
  suspects_.clear();
  sent_suspect_.reset();
  new_view_.reset();
  repropose_.reset();
  sent_proposal_.reset();
  next_proposal_.reset();
  out_.persist = true;
  ViewChange vc{target, config_.self, committed_, std::nullopt, Signature{}, SharedBytes()};
  if (prepared_ && prepared_->header.height == next_height_) vc.prepared = prepared_;
  vc.signature = signer_.sign(view_change_signing_bytes(vc));
  view_changes_[config_.self] = vc;
  const NodeId next_leader = leader_of(target);
  for (const auto& m : config_.replicas) {
    if (m.node == config_.self) continue;
    ViewChange copy = vc;
    if (m.node == next_leader && vc.prepared) copy.body = prepared_body_;
    send(m.node, std::move(copy));
  }
  try_new_view();
}

Agreement::Output Agreement::on_view_change(NodeId from, const ViewChange& vc) {
  if (from == config_.self || vc.sender != from || !is_replica(from)) return take();
  if (vc.view < view_ || (vc.view == view_ && active_)) {
    // It is behind: the NewView of this view brings it along.
    if (leading() && new_view_) send(from, *new_view_);
    if (vc.committed && vc.committed->header.height >= next_height_) out_.fetch_from = from;
    return take();
  }
  if (!view_change_ok(vc)) return take();
  auto [it, fresh] = view_changes_.try_emplace(from, vc);
  if (!fresh) {
    if (it->second.view < vc.view || (it->second.view == vc.view && it->second.body.empty()))
      it->second = vc;
  }
  if (vc.committed && vc.committed->header.height >= next_height_) out_.fetch_from = from;
  if (!join_later_view()) try_new_view();
  return take();
}

// f+1 replicas ask for later views, so at least one honest one timed out
// too: this one asks for the lowest of them. Its own time-out in the view
// it is active in counts as one of the f+1: otherwise replicas left behind
// in an old view with one honest replica ahead, alone in later views, wait
// for each other for ever while a faulty replica stays silent (found by
// the group sweep, seed 318 of scenarios/group-sweep.yaml). Waiting for a
// NewView, it needs f+1 others, so a faulty replica cannot move it on and on.
bool Agreement::join_later_view() {
  std::vector<std::uint64_t> above;
  for (const auto& [node, c] : view_changes_)
    if (node != config_.self && c.view > view_) above.push_back(c.view);
  const std::size_t own = active_ && sent_suspect_ ? 1 : 0;
  if (above.empty() || above.size() + own < f() + 1) return false;
  ask_view(*std::min_element(above.begin(), above.end()));
  return true;
}

void Agreement::try_new_view() {
  if (active_ || leader() != config_.self) return;
  std::vector<const ViewChange*> set;
  for (const auto& [node, c] : view_changes_)
    if (c.view == view_) set.push_back(&c);
  if (set.size() < config_.quorum) return;
  NewView nv{view_, {}};
  for (const ViewChange* c : set) {
    nv.view_changes.push_back(*c);
    drop_body(nv.view_changes.back());
  }
  adopt_certified(nv);
  std::optional<NodeId> ahead;
  const Constraint c = constraint_of(nv, &ahead);
  // The prepared block the view must carry, with a body that matches it.
  std::optional<Proposed> carried;
  if (c.hash && c.height >= next_height_) {
    if (prepared_ && header_hash(prepared_->header) == *c.hash)
      carried = Proposed{prepared_->header, *c.hash, prepared_body_, {}};
    for (const ViewChange* vc : set) {
      if (carried) break;
      if (vc->prepared && header_hash(vc->prepared->header) == *c.hash && !vc->body.empty() &&
          config_.body_matches(vc->prepared->header, vc->body.view()))
        carried = Proposed{vc->prepared->header, *c.hash, vc->body, {}};
    }
    // Without the body the view cannot start its first block: the view
    // timer moves on to the next leader, who may have it.
    if (!carried) return;
  }
  enter_view(view_, nv);
  constraint_ = c;
  send(std::nullopt, nv);
  if (ahead) out_.fetch_from = ahead;
  repropose_ = carried;
  repropose_if_due();
}

Agreement::Output Agreement::on_new_view(NodeId from, const NewView& nv) {
  if (from == config_.self || from != leader_of(nv.view)) return take();
  if (nv.view < view_ || (nv.view == view_ && active_)) return take();
  std::vector<NodeId> senders;
  for (const ViewChange& vc : nv.view_changes) {
    if (vc.view != nv.view || !view_change_ok(vc)) return take();
    senders.push_back(vc.sender);
  }
  std::sort(senders.begin(), senders.end());
  if (std::adjacent_find(senders.begin(), senders.end()) != senders.end() ||
      senders.size() < config_.quorum)
    return take();
  adopt_certified(nv);
  std::optional<NodeId> ahead;
  const Constraint c = constraint_of(nv, &ahead);
  enter_view(nv.view, nv);
  constraint_ = c;
  if (ahead) out_.fetch_from = ahead;
  return take();
}

void Agreement::enter_view(std::uint64_t view, std::optional<NewView> nv) {
  view_ = view;
  active_ = true;
  suspects_.clear();
  sent_suspect_.reset();
  new_view_ = std::move(nv);
  sent_proposal_.reset();
  if (next_proposal_ && next_proposal_->view != view) next_proposal_.reset();
  out_.view_entered = true;
  out_.persist = true;
  for (auto it = view_changes_.begin(); it != view_changes_.end();) {
    if (it->second.view <= view) {
      it = view_changes_.erase(it);
    } else {
      ++it;
    }
  }
}

// A view change may show the commit certificate of the block this replica
// prepared at its next height (it voted to commit, the votes to it were
// lost): that certificate decides the block here too, with the body it
// holds, instead of a fetch from the one replica that committed it, which
// may be faulty and withhold it (group sweep seed 1910).
void Agreement::adopt_certified(const NewView& nv) {
  if (!prepared_ || prepared_->header.height != next_height_) return;
  const Hash mine = header_hash(prepared_->header);
  for (const ViewChange& vc : nv.view_changes) {
    if (!vc.committed || vc.committed->header.height != next_height_ ||
        header_hash(vc.committed->header) != mine || !certificate_ok(*vc.committed))
      continue;
    decide(*vc.committed, prepared_body_);
    return;
  }
}

// The first height of the new view is the one above the highest certified
// commit among the view changes; if any of them prepared a block there, the
// one prepared in the latest view must be proposed again.
Agreement::Constraint Agreement::constraint_of(const NewView& nv,
                                               std::optional<NodeId>* ahead) const {
  Constraint c{nv.view, 0, std::nullopt};
  for (const ViewChange& vc : nv.view_changes) {
    if (!vc.committed) continue;
    const std::uint64_t h = vc.committed->header.height + 1;
    if (h > c.height) {
      c.height = h;
      if (h > next_height_) *ahead = vc.sender;
    }
  }
  std::uint64_t best_view = 0;
  for (const ViewChange& vc : nv.view_changes) {
    if (!vc.prepared || vc.prepared->header.height != c.height) continue;
    if (!c.hash || vc.prepared->view > best_view) {
      c.hash = header_hash(vc.prepared->header);
      best_view = vc.prepared->view;
    }
  }
  return c;
}

void Agreement::repropose_if_due() {
  if (!repropose_ || !leading()) return;
  if (repropose_->header.height < next_height_) {  // committed meanwhile
    repropose_.reset();
    return;
  }
  if (repropose_->header.height > next_height_ || in_flight()) return;  // catching up first
  Proposed p = std::move(*repropose_);
  repropose_.reset();
  const Hash tip = committed_ ? header_hash(committed_->header) : Hash{};
  if (p.header.prev_hash != tip) return;  // cannot happen with f or fewer faulty replicas
  propose_now(p.header, std::move(p.body), 0);
}

bool Agreement::certificate_ok(const SignedHeader& sh) const {
  return sh.header.network == config_.network && verify_quorum(sh, validators_, verifier_);
}

bool Agreement::prepared_ok(const PreparedCert& c) const {
  if (c.header.network != config_.network) return false;
  const Bytes message =
      prepare_signing_bytes(config_.network, c.view, c.header.height, header_hash(c.header));
  std::size_t valid = 0;
  for (const HeaderSignature& s : c.prepares) {  // signers strictly increasing (decoder)
    const PublicKey* key = key_of(s.signer);
    if (key && verifier_.verify(*key, message, s.signature)) ++valid;
  }
  return valid >= config_.quorum;
}

bool Agreement::view_change_ok(const ViewChange& vc) const {
  const PublicKey* key = key_of(vc.sender);
  if (!key || !verifier_.verify(*key, view_change_signing_bytes(vc), vc.signature)) return false;
  if (vc.committed && !certificate_ok(*vc.committed)) return false;
  if (vc.prepared) {
    const std::uint64_t above = vc.committed ? vc.committed->header.height + 1 : 0;
    if (vc.prepared->header.height != above || vc.prepared->view >= vc.view ||
        !prepared_ok(*vc.prepared))
      return false;
  }
  return true;
}

Agreement::Output Agreement::resend() const {
  Output o;
  if (size() == 1) return o;
  if (!active_) {
    auto mine = view_changes_.find(config_.self);
    if (mine == view_changes_.end() || mine->second.view != view_) return o;
    for (const auto& m : config_.replicas) {
      if (m.node == config_.self) continue;
      ViewChange copy = mine->second;
      if (m.node == leader() && copy.prepared) copy.body = prepared_body_;
      o.sends.push_back({m.node, std::move(copy)});
    }
    return o;
  }
  if (sent_suspect_) o.sends.push_back({std::nullopt, *sent_suspect_});
  if (sent_proposal_) o.sends.push_back({std::nullopt, *sent_proposal_});
  if (next_proposal_) o.sends.push_back({std::nullopt, *next_proposal_});
  for (const Vote& v : sent_votes_)
    if (v.view == view_) o.sends.push_back({std::nullopt, v});
  return o;
}

}  // namespace mhr
