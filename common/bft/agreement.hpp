// Agreement: one replica's part in PBFT over one chain (an edge network's or
// the index chain), one height voted on at a time, the next one proposed
// while it commits (docs/CONSENSUS.md): proposals,
// prepare and commit votes, quorum certificates, view changes. Pure: messages in, messages and
// decisions out; no Env, no clock (the caller runs the view timer), no store
// (the caller stores durable() whenever an output says so, before sending).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/block.hpp"
#include "common/messages.hpp"

namespace mhr {

struct GroupConfig {
  NetworkId network;
  std::vector<ValidatorSet::Member> replicas;  // the leader of view v is replicas[v % n]
  std::size_t quorum = 1;                      // bft_quorum(replicas.size())
  NodeId self;
  // Whether a body is the one a header commits to (its Merkle root): the
  // agreement keeps bodies opaque.
  std::function<bool(const BlockHeader&, ByteView body)> body_matches;
  bool pipeline = false;  // the leader may propose above the block in flight
};

// The quorum of a group of n replicas tolerating f = (n-1)/3 faulty ones:
// floor((n+f)/2)+1, so that two quorums share more than f replicas, one of
// them honest (2f+1 when n = 3f+1; 2 of 2; 2 of 3; 1 of 1).
std::size_t bft_quorum(std::size_t n);

// The bytes a replica signs to prepare a header in a view.
Bytes prepare_signing_bytes(NetworkId network, std::uint64_t view, std::uint64_t height,
                            const Hash& header_hash);
// The bytes a replica signs to suspect the leader of a view.
Bytes suspect_signing_bytes(NetworkId network, std::uint64_t view);

class Agreement {
 public:
  struct Send {
    std::optional<NodeId> to;  // nullopt: every other replica
    Message message;
  };
  // A block the group committed: its header with the quorum certificate.
  struct Decision {
    SignedHeader header;
    SharedBytes body;
  };
  struct Output {
    std::vector<Send> sends;
    // The next heights, decided, in order (two when a view change's
    // certificate decides one and the carried-over block the next).
    std::vector<Decision> committed;
    std::optional<Proposal> proposed;  // this replica proposed (also a re-proposal)
    // Another replica has committed blocks this one lacks: fetch them.
    std::optional<NodeId> fetch_from;
    bool view_entered = false;  // a new view began (the leader may have changed)
    bool persist = false;       // durable() changed: store it before sending
  };
  enum class Verdict {
    kCheckBody,  // the caller validates the body, then calls accept_proposal
    kIgnore,     // old, duplicate, conflicting or badly signed
    kLater,      // for a later height or view: kept, and the output says whom to ask
  };

  Agreement(GroupConfig config, const Signer& signer, const Verifier& verifier);

  // At start: the committed chain's tip and the state stored before a restart.
  void load(const std::optional<SignedHeader>& tip, std::optional<ByteView> durable);
  Bytes durable() const;

  std::size_t size() const { return config_.replicas.size(); }
  std::uint64_t view() const { return view_; }
  bool active() const { return active_; }  // false while waiting for a NewView
  NodeId leader_of(std::uint64_t view) const;
  NodeId leader() const { return leader_of(view_); }
  bool leading() const { return active_ && leader() == config_.self; }
  bool is_replica(NodeId node) const;
  std::uint64_t next_height() const { return next_height_; }
  const std::optional<SignedHeader>& committed() const { return committed_; }
  // True when this replica leads and may propose a fresh block now.
  bool can_propose() const;
  // A proposal is in flight at the next height (in the current view).
  bool in_flight() const { return proposals_.contains(view_); }
  // The header of that proposal; nullptr when none is.
  const BlockHeader* in_flight_header() const;
  // True when this replica leads, has prepared the block in flight and may
  // propose the one above it now (pipelining: the next block travels and its
  // signatures are checked while the one below commits).
  bool can_propose_next() const;
  // A block proposed at the height above the one in flight waits for it.
  bool proposing_next() const { return next_proposal_.has_value(); }
  // The NewView showed commits above this replica's chain: it fetches them
  // before it may propose or vote in this view.
  bool below_view_start() const {
    return constraint_ && constraint_->view == view_ && next_height_ < constraint_->height;
  }
  // Consecutive view changes without a commit: the caller backs off by it.
  std::uint32_t failed_views() const { return failed_views_; }

  // Leader: proposes `header` (for next_height(), linked to the tip).
  Output propose(const BlockHeader& header, SharedBytes body, std::uint64_t delivered_below);
  // Leader: proposes `header` for next_height() + 1, linked to the block in
  // flight. Replicas vote on it once the block below commits here; if that
  // block does not commit in this view, the proposal lapses.
  Output propose_next(const BlockHeader& header, SharedBytes body, std::uint64_t delivered_below);
  Verdict check_proposal(NodeId from, const Proposal& p);
  // A proposal whose body the caller found valid.
  Output accept_proposal(const Proposal& p);
  // A proposal kept by kLater that may be due now (after a commit or a new view).
  std::optional<std::pair<NodeId, Proposal>> take_later_proposal();
  Output on_vote(NodeId from, const Vote& v);
  // A Vote, ViewChange or NewView: its output; nullopt for other messages.
  std::optional<Output> on_message(NodeId from, const Message& m);
  Output on_view_change(NodeId from, const ViewChange& vc);
  Output on_new_view(NodeId from, const NewView& nv);
  // A committed block that came by catch-up, already checked by the caller
  // (certificate, link, body) and applied: the chain moved on.
  Output on_caught_up(const SignedHeader& header);
  // The view timer expired. Active in a view, this replica suspects its
  // leader and says so; once f+1 replicas do (one of them honest), it asks
  // for the next view. Waiting for a NewView, it asks for the view after.
  Output on_timeout();
  // No progress for a while: send again what this replica sent for the
  // current height or view change (messages get lost).
  Output resend() const;
  // The NewView that started the current view, for a replica that missed it.
  const std::optional<NewView>& new_view() const { return new_view_; }
  // Whether a certificate in a view change or catch-up block verifies.
  bool certificate_ok(const SignedHeader& sh) const;

 private:
  struct Proposed {
    BlockHeader header;
    Hash hash;
    SharedBytes body;
    Signature prepare;  // the leader's
  };
  // What a NewView fixes: the first height of the view and, if a block was
  // prepared there, that block.
  struct Constraint {
    std::uint64_t view = 0;
    std::uint64_t height = 0;
    std::optional<Hash> hash;
  };
  using VoteKey = std::pair<std::uint64_t, Hash>;  // (view, header hash)

  Output take();
  void propose_now(const BlockHeader& header, SharedBytes body, std::uint64_t delivered_below);
  void send(std::optional<NodeId> to, Message m) { out_.sends.push_back({to, std::move(m)}); }
  void record_proposal(std::uint64_t view, const Proposed& p);
  void vote(VotePhase phase, std::uint64_t view, const Hash& hash);
  bool add_vote(NodeId from, const Vote& v);
  void keep_later_vote(NodeId from, const Vote& v);
  void on_suspect(NodeId from, const Vote& v);
  void progress();
  void decide(const SignedHeader& qc, SharedBytes body);
  void advance(const SignedHeader& header);
  void promote_next_proposal();
  void enter_view(std::uint64_t view, std::optional<NewView> nv);
  void ask_view(std::uint64_t view);
  bool join_later_view();
  void try_new_view();
  void adopt_certified(const NewView& nv);
  bool view_change_ok(const ViewChange& vc) const;
  bool prepared_ok(const PreparedCert& c) const;
  Constraint constraint_of(const NewView& nv, std::optional<NodeId>* ahead) const;
  void repropose_if_due();
  const PublicKey* key_of(NodeId node) const;
  std::size_t f() const { return (size() - 1) / 3; }

  GroupConfig config_;
  const Signer& signer_;
  const Verifier& verifier_;
  Output out_;

  std::uint64_t view_ = 0;
  bool active_ = true;
  std::uint64_t next_height_ = 0;
  std::optional<SignedHeader> committed_;
  std::uint32_t failed_views_ = 0;
  ValidatorSet validators_;

  // The next height: at most one proposal per view, votes per (view, hash).
  std::map<std::uint64_t, Proposed> proposals_;
  std::map<VoteKey, std::vector<HeaderSignature>> prepares_;
  std::map<VoteKey, std::vector<HeaderSignature>> commits_;
  std::optional<VoteKey> prepare_sent_;  // durable: never two prepares in one view
  std::optional<std::uint64_t> commit_sent_;
  std::optional<PreparedCert> prepared_;  // durable, with its body
  SharedBytes prepared_body_;
  std::optional<Constraint> constraint_;  // durable
  // What this replica sent at the next height, for resend().
  std::optional<Proposal> sent_proposal_;
  // Leader: the proposal for the height above the next, sent while the
  // next commits; durable, so that a restart never proposes another there
  // in this view. It becomes the proposal in flight when the next commits.
  std::optional<Proposal> next_proposal_;
  std::vector<Vote> sent_votes_;

  // Replicas that timed out in the current view (this one included).
  std::set<NodeId> suspects_;
  std::optional<Vote> sent_suspect_;
  // View changes: the latest from each replica.
  std::map<NodeId, ViewChange> view_changes_;
  std::optional<NewView> new_view_;
  std::optional<Proposed> repropose_;  // leader: what the new view must propose first
  // Messages for a later height or view, replayed when it comes.
  std::vector<std::pair<NodeId, Vote>> later_votes_;
  std::optional<std::pair<NodeId, Proposal>> later_proposal_;
};

}  // namespace mhr
