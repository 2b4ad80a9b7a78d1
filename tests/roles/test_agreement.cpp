// The PBFT agreement core alone: four (or one) replicas whose messages the
// test carries by hand, dropping, duplicating or forging some of them.
#include <doctest/doctest.h>

#include <deque>
#include <memory>
#include <set>

#include "common/bft/agreement.hpp"
#include "common/signer.hpp"

using namespace mhr;

namespace {

const NetworkId kNet{0};

SharedBytes body_of(std::string_view text) {
  return SharedBytes(as_bytes(text));
}

// The test's stand-in for a Merkle root: the hash of the whole body.
bool body_matches(const BlockHeader& h, ByteView body) {
  return h.merkle_root == sha256(body);
}

struct Envelope {
  NodeId from;
  NodeId to;
  Message message;
};

class Group {
 public:
  explicit Group(std::size_t n, std::uint32_t first_id = 10, bool pipelined = true)
      : pipeline(pipelined) {
    for (std::size_t i = 0; i < n; ++i) {
      const NodeId id{first_id + static_cast<std::uint32_t>(i)};
      ids.push_back(id);
      SecretSeed seed;
      seed.bytes.fill(static_cast<std::uint8_t>(i + 1));
      signers.push_back(make_signer(CryptoMode::kModeled, seed));
    }
    std::vector<ValidatorSet::Member> members;
    for (std::size_t i = 0; i < n; ++i) members.push_back({ids[i], signers[i]->public_key()});
    validators.members = members;
    validators.quorum = bft_quorum(n);
    for (std::size_t i = 0; i < n; ++i) replicas.push_back(make(i));
    for (auto& r : replicas) r->load(std::nullopt, std::nullopt);
    decided.resize(n);
  }

  std::unique_ptr<Agreement> make(std::size_t i) {
    GroupConfig c{kNet, validators.members, validators.quorum, ids[i], body_matches, pipeline};
    return std::make_unique<Agreement>(c, *signers[i], modeled_verifier());
  }

  std::size_t index(NodeId id) const {
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (ids[i] == id) return i;
    FAIL("unknown replica");
    return 0;
  }

  // The header the leader of the current view proposes next, over `text`.
  BlockHeader header_for(std::size_t i, std::string_view text) const {
    const Agreement& a = *replicas[i];
    BlockHeader h{kNet,
                  a.next_height(),
                  a.committed() ? header_hash(a.committed()->header) : Hash{},
                  sha256(as_bytes(text)),
                  1,
                  1000,
                  ids[i],
                  Hash{}};
    return h;
  }

  void propose(std::size_t i, std::string_view text) {
    REQUIRE(replicas[i]->can_propose());
    handle(i, replicas[i]->propose(header_for(i, text), body_of(text), 0));
  }

  // Leader: the block above the one in flight, while that one commits.
  void propose_next(std::size_t i, std::string_view text) {
    REQUIRE(replicas[i]->can_propose_next());
    const BlockHeader* below = replicas[i]->in_flight_header();
    REQUIRE(below);
    const BlockHeader h{
        kNet,  below->height + 1, header_hash(*below), sha256(as_bytes(text)), 1, 1000, ids[i],
        Hash{}};
    handle(i, replicas[i]->propose_next(h, body_of(text), 0));
  }

  // Delivers the first queued message; false when none is left.
  bool step() {
    if (queue.empty()) return false;
    Envelope e = std::move(queue.front());
    queue.pop_front();
    if (!down.contains(index(e.from))) deliver(e);
    return true;
  }

  void handle(std::size_t i, Agreement::Output out) {
    for (auto& d : out.committed) decided[i].push_back(std::move(d));
    if (out.fetch_from) fetches.emplace(ids[i], *out.fetch_from);
    for (auto& s : out.sends) {
      if (s.to) {
        queue.push_back({ids[i], *s.to, std::move(s.message)});
      } else {
        for (NodeId to : ids)
          if (to != ids[i]) queue.push_back({ids[i], to, s.message});
      }
    }
  }

  void deliver(const Envelope& e) {
    const std::size_t to = index(e.to);
    if (down.contains(to)) return;
    Agreement& a = *replicas[to];
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, Proposal>) {
            if (a.check_proposal(e.from, m) == Agreement::Verdict::kCheckBody &&
                body_matches(m.header, m.body.view()))
              handle(to, a.accept_proposal(m));
          }
          if constexpr (std::is_same_v<T, Vote>) {
            handle(to, a.on_vote(e.from, m));
            // A commit lets a proposal kept for the height above through.
            if (auto later = a.take_later_proposal()) deliver({later->first, e.to, later->second});
          }
          if constexpr (std::is_same_v<T, ViewChange>) handle(to, a.on_view_change(e.from, m));
          if constexpr (std::is_same_v<T, NewView>) {
            handle(to, a.on_new_view(e.from, m));
            if (auto later = a.take_later_proposal()) deliver({later->first, e.to, later->second});
          }
        },
        e.message);
  }

  // Delivers everything queued (and what that causes), dropping what `drop` says.
  template <class Drop>
  void run(Drop drop) {
    while (!queue.empty()) {
      Envelope e = std::move(queue.front());
      queue.pop_front();
      if (down.contains(index(e.from)) || drop(e)) continue;
      deliver(e);
    }
  }
  void run() {
    run([](const Envelope&) { return false; });
  }

  void timeout(std::size_t i) { handle(i, replicas[i]->on_timeout()); }

  // The leader goes silent for good; the others time out and change view.
  void lose_leader(std::size_t leader) {
    down = {leader};
    for (std::size_t i = 0; i < replicas.size(); ++i)
      if (i != leader) timeout(i);
    run();
  }

  bool pipeline = true;
  std::vector<NodeId> ids;
  std::vector<std::unique_ptr<Signer>> signers;
  ValidatorSet validators;
  std::vector<std::unique_ptr<Agreement>> replicas;
  std::vector<std::vector<Agreement::Decision>> decided;
  std::deque<Envelope> queue;
  std::set<std::size_t> down;
  std::set<std::pair<NodeId, NodeId>> fetches;  // (who, from whom)
};

bool is_commit_vote(const Message& m) {
  const auto* v = std::get_if<Vote>(&m);
  return v && v->phase == VotePhase::kCommit;
}

}  // namespace

TEST_CASE("agreement: the quorum makes two quorums meet in an honest replica for any n") {
  CHECK(bft_quorum(1) == 1);
  CHECK(bft_quorum(2) == 2);
  CHECK(bft_quorum(3) == 2);
  CHECK(bft_quorum(4) == 3);
  CHECK(bft_quorum(7) == 5);
  for (std::size_t n = 1; n <= kMaxGroupReplicas; ++n) {
    const std::size_t f = (n - 1) / 3, q = bft_quorum(n);
    CHECK(q <= n - f);          // live with f replicas silent
    CHECK(2 * q >= n + f + 1);  // two quorums share f+1 replicas
  }
}

TEST_CASE("agreement: four replicas commit the leader's block with a quorum certificate") {
  Group g(4);
  REQUIRE(g.replicas[0]->leading());
  CHECK_FALSE(g.replicas[1]->can_propose());
  const Hash expected = header_hash(g.header_for(0, "block zero"));
  g.propose(0, "block zero");
  CHECK_FALSE(g.replicas[0]->can_propose());  // one height in flight
  g.run();
  for (std::size_t i = 0; i < 4; ++i) {
    INFO("replica " << i);
    REQUIRE(g.decided[i].size() == 1);
    const SignedHeader& qc = g.decided[i][0].header;
    CHECK(header_hash(qc.header) == expected);
    CHECK(qc.view == 0);
    CHECK(qc.signatures.size() >= 3);
    CHECK(verify_quorum(qc, g.validators, modeled_verifier()));
    CHECK(g.decided[i][0].body == body_of("block zero"));
    CHECK(g.replicas[i]->next_height() == 1);
  }
  // The next height links to the committed one.
  g.propose(0, "block one");
  g.run();
  for (std::size_t i = 0; i < 4; ++i) {
    REQUIRE(g.decided[i].size() == 2);
    CHECK(g.decided[i][1].header.header.prev_hash == expected);
  }
}

TEST_CASE("agreement: a single replica commits at once with its own signature") {
  Group g(1);
  g.propose(0, "alone");
  CHECK(g.queue.empty());  // nobody to talk to
  REQUIRE(g.decided[0].size() == 1);
  CHECK(g.decided[0][0].header.signatures.size() == 1);
  CHECK(verify_quorum(g.decided[0][0].header, g.validators, modeled_verifier()));
  CHECK(g.replicas[0]->can_propose());
}

TEST_CASE("agreement: quorum counting — one silent replica is tolerated, two stop the group") {
  SUBCASE("f = 1 silent") {
    Group g(4);
    g.down = {3};
    g.propose(0, "b");
    g.run();
    for (std::size_t i = 0; i < 3; ++i) CHECK(g.decided[i].size() == 1);
    CHECK(g.decided[3].empty());
  }
  SUBCASE("2 of 4 silent: nothing commits") {
    Group g(4);
    g.down = {2, 3};
    g.propose(0, "b");
    g.run();
    for (std::size_t i = 0; i < 4; ++i) CHECK(g.decided[i].empty());
  }
}

TEST_CASE("agreement: duplicate, forged, outsider and conflicting votes are not counted") {
  Group g(4);
  g.propose(0, "b");
  // Replica 1 gets the proposal and nothing else.
  g.run([&](const Envelope& e) {
    return !(e.to == g.ids[1] && std::holds_alternative<Proposal>(e.message));
  });
  const Hash h = header_hash(g.header_for(0, "b"));
  auto prepare_from = [&](std::size_t i, const Hash& of) {
    Vote v{VotePhase::kPrepare, 0, 0, of, {}};
    v.signature = g.signers[i]->sign(prepare_signing_bytes(kNet, 0, 0, of));
    return v;
  };
  auto commit_votes_sent = [&] {
    return std::count_if(g.queue.begin(), g.queue.end(), [&](const Envelope& e) {
      return e.from == g.ids[1] && is_commit_vote(e.message);
    });
  };
  Agreement& r1 = *g.replicas[1];
  // The leader's prepare (in the proposal) and its own: 2 of the 3 needed.
  g.handle(1, r1.on_vote(g.ids[3], prepare_from(2, h)));    // replica 2's signature, sent by 3
  g.handle(1, r1.on_vote(NodeId{99}, prepare_from(3, h)));  // from outside the group
  g.handle(1, r1.on_vote(g.ids[3], prepare_from(3, sha256(as_bytes("x")))));  // another block
  g.handle(1, r1.on_vote(g.ids[1], prepare_from(1, h)));  // its own, echoed back
  Vote bad = prepare_from(3, h);
  bad.signature.bytes[0] ^= 1;
  g.handle(1, r1.on_vote(g.ids[3], bad));  // a damaged signature
  CHECK(commit_votes_sent() == 0);
  // One genuine prepare more makes the quorum; a duplicate of it changes nothing.
  g.handle(1, r1.on_vote(g.ids[2], prepare_from(2, h)));
  g.handle(1, r1.on_vote(g.ids[2], prepare_from(2, h)));
  CHECK(commit_votes_sent() == 3);  // one commit vote, to each of the three others
}

TEST_CASE("agreement: a view change carries a prepared block over to the new leader") {
  Group g(4);
  const Hash expected = header_hash(g.header_for(0, "prepared"));
  g.propose(0, "prepared");
  // Prepares get through, every commit vote is lost: some replicas prepared
  // the block, none committed it.
  g.run([](const Envelope& e) { return is_commit_vote(e.message); });
  for (std::size_t i = 0; i < 4; ++i) CHECK(g.decided[i].empty());
  // The leader goes silent; the others time out.
  g.lose_leader(0);
  for (std::size_t i = 1; i < 4; ++i) {
    INFO("replica " << i);
    CHECK(g.replicas[i]->view() == 1);
    REQUIRE(g.decided[i].size() == 1);
    CHECK(header_hash(g.decided[i][0].header.header) == expected);  // the same block
    CHECK(g.decided[i][0].header.view == 1);
    CHECK(verify_quorum(g.decided[i][0].header, g.validators, modeled_verifier()));
  }
  // The new leader (replica 1) goes on with fresh blocks.
  REQUIRE(g.replicas[1]->leading());
  g.propose(1, "after");
  g.run();
  for (std::size_t i = 1; i < 4; ++i) CHECK(g.decided[i].size() == 2);
}

TEST_CASE("agreement: a view change with nothing prepared lets the new leader propose afresh") {
  Group g(4);
  g.down = {0};  // the leader of view 0 never speaks
  for (std::size_t i = 1; i < 4; ++i) g.timeout(i);
  g.run();
  REQUIRE(g.replicas[1]->leading());
  CHECK(g.replicas[2]->view() == 1);
  CHECK(g.replicas[2]->active());
  g.propose(1, "fresh");
  g.run();
  for (std::size_t i = 1; i < 4; ++i) CHECK(g.decided[i].size() == 1);
}

TEST_CASE("agreement: one replica timing out alone changes nothing; f+1 pull the rest along") {
  Group g(4);
  g.timeout(3);
  g.run();
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(g.replicas[i]->view() == 0);
    CHECK(g.replicas[i]->active());
  }
  // It still takes part in view 0.
  g.propose(0, "b");
  g.run();
  CHECK(g.decided[3].size() == 1);
  g.timeout(3);
  g.timeout(2);  // a second one: f+1 = 2 suspect view 0, so all move to view 1
  g.run();
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(g.replicas[i]->view() == 1);
    CHECK(g.replicas[i]->active());
  }
}

TEST_CASE("agreement: an equivocating leader cannot make two blocks commit at one height") {
  Group g(4);
  // Leader 0 sends block A to replica 1 and block B to replicas 2 and 3.
  Agreement& leader = *g.replicas[0];
  BlockHeader a = g.header_for(0, "A");
  BlockHeader b = g.header_for(0, "B");
  Proposal pa{0, a, body_of("A"),
              g.signers[0]->sign(prepare_signing_bytes(kNet, 0, 0, header_hash(a))), 0};
  Proposal pb{0, b, body_of("B"),
              g.signers[0]->sign(prepare_signing_bytes(kNet, 0, 0, header_hash(b))), 0};
  (void)leader;
  g.down = {0};  // the leader takes part only through what it sent
  g.deliver({g.ids[0], g.ids[1], pa});
  g.deliver({g.ids[0], g.ids[2], pb});
  g.deliver({g.ids[0], g.ids[3], pb});
  g.deliver({g.ids[0], g.ids[1], pb});  // a second block for replica 1: ignored
  g.run();
  std::set<Hash> decided;
  for (std::size_t i = 1; i < 4; ++i)
    for (const auto& d : g.decided[i]) decided.insert(header_hash(d.header.header));
  CHECK(decided.size() <= 1);
  // B has the leader's prepare and those of 2 and 3: a quorum; it may commit.
  // A never can. Then a view change settles the height for everyone.
  for (std::size_t i = 1; i < 4; ++i)
    if (g.decided[i].empty()) g.timeout(i);
  g.run();
  for (std::size_t i = 1; i < 4; ++i)
    for (const auto& d : g.decided[i]) decided.insert(header_hash(d.header.header));
  CHECK(decided.size() == 1);
  CHECK_FALSE(decided.contains(header_hash(a)));
}

TEST_CASE("agreement: a restarted replica keeps its prepare and its view") {
  Group g(4);
  const Hash expected = header_hash(g.header_for(0, "b"));
  g.propose(0, "b");
  g.run([](const Envelope& e) { return is_commit_vote(e.message); });
  const Bytes saved = g.replicas[2]->durable();
  g.replicas[2] = g.make(2);
  g.replicas[2]->load(std::nullopt, ByteView(saved));
  CHECK(g.replicas[2]->view() == 0);
  // The same leader now proposes another block in the same view: the
  // restarted replica refuses to prepare it.
  BlockHeader other = g.header_for(0, "other");
  Proposal p{0, other, body_of("other"),
             g.signers[0]->sign(prepare_signing_bytes(kNet, 0, 0, header_hash(other))), 0};
  REQUIRE(g.replicas[2]->check_proposal(g.ids[0], p) == Agreement::Verdict::kCheckBody);
  auto out = g.replicas[2]->accept_proposal(p);
  CHECK(out.sends.empty());
  // A view change from it still carries the block it prepared.
  g.lose_leader(0);
  for (std::size_t i = 1; i < 4; ++i) {
    REQUIRE(g.decided[i].size() == 1);
    CHECK(header_hash(g.decided[i][0].header.header) == expected);
  }
}

TEST_CASE("agreement: a restarted leader sends its own proposal again, never another") {
  Group g(4);
  const Hash first = header_hash(g.header_for(0, "first"));
  g.propose(0, "first");
  g.queue.clear();  // lost: nobody saw it
  const Bytes saved = g.replicas[0]->durable();
  g.replicas[0] = g.make(0);
  g.replicas[0]->load(std::nullopt, ByteView(saved));
  CHECK(g.replicas[0]->leading());
  CHECK(g.replicas[0]->in_flight());
  CHECK_FALSE(g.replicas[0]->can_propose());
  auto again = g.replicas[0]->resend();
  REQUIRE_FALSE(again.sends.empty());
  const auto* p = std::get_if<Proposal>(&again.sends.front().message);
  REQUIRE(p);
  CHECK(header_hash(p->header) == first);
  g.handle(0, std::move(again));
  g.run();
  for (std::size_t i = 0; i < 4; ++i) {
    REQUIRE(g.decided[i].size() == 1);
    CHECK(header_hash(g.decided[i][0].header.header) == first);
  }
}

TEST_CASE("agreement: a replica that missed commits is told whom to fetch from") {
  Group g(4);
  g.down = {3};
  g.propose(0, "one");
  g.run();
  g.propose(0, "two");
  g.down.clear();
  g.run();
  // Replica 3 slept through height 0: the votes for height 1 tell it so.
  CHECK(g.decided[3].empty());
  CHECK(g.fetches.contains({g.ids[3], g.ids[0]}) + g.fetches.contains({g.ids[3], g.ids[1]}) +
            g.fetches.contains({g.ids[3], g.ids[2]}) >
        0);
  // Given the committed block, it takes part again.
  g.handle(3, g.replicas[3]->on_caught_up(g.decided[0][0].header));
  if (auto later = g.replicas[3]->take_later_proposal())
    g.deliver({later->first, g.ids[3], later->second});
  g.run();
  CHECK(g.replicas[3]->next_height() == 2);
  CHECK(g.decided[3].size() == 1);
}

// Sweep seed 850 (docs/RELIABILITY.md): with three replicas (quorum 2), a
// new leader that missed a committed block proposed another one at its
// height, and a replica that had prepared the first accepted it: a fork.
TEST_CASE("agreement: below the new view's first height nothing is proposed or accepted") {
  Group g(3);
  const auto from = [&](std::size_t i) {
    return [&g, i](const Envelope& e) { return e.from == g.ids[i]; };
  };
  // Replica 2 is cut off; replica 0 commits block 0 with replica 1's votes,
  // replica 1 only prepares it (the commit votes to it are lost).
  g.propose(0, "committed");
  g.run([&](const Envelope& e) {
    return e.to == g.ids[2] || e.from == g.ids[2] ||
           (e.to == g.ids[1] && is_commit_vote(e.message));
  });
  REQUIRE(g.decided[0].size() == 1);
  REQUIRE(g.decided[1].empty());
  // Replicas 0 and 2 move to view 2 (replica 2 leads it); replica 1 hears
  // everything but is not heard.
  for (int round = 0; round < 2; ++round) {
    g.timeout(0);
    g.timeout(2);
    g.run(from(1));
  }
  REQUIRE(g.replicas[2]->view() == 2);
  REQUIRE(g.replicas[2]->leading());
  // Replica 0's view change shows block 0 committed: replica 2 fetches it
  // before it proposes.
  CHECK_FALSE(g.replicas[2]->can_propose());
  CHECK(g.fetches.contains({g.ids[2], g.ids[0]}));
  // A block of view 2 at height 0 would fork: replica 1 refuses it.
  REQUIRE(g.replicas[1]->view() == 2);
  Proposal p{2, g.header_for(2, "fork"), body_of("fork"), {}, 0};
  p.prepare = g.signers[2]->sign(prepare_signing_bytes(kNet, 2, 0, header_hash(p.header)));
  CHECK(g.replicas[1]->check_proposal(g.ids[2], p) == Agreement::Verdict::kIgnore);
}

// Group sweep seed 1910: only a faulty replica had the commit certificate
// of a block the others had prepared. Its view change shows it; the new
// view decides the block from the bodies the others hold, instead of
// fetching it from the one replica that may withhold it.
TEST_CASE("agreement: a certificate in a view change decides the block the others prepared") {
  Group g(4);
  const Hash expected = header_hash(g.header_for(0, "only 2 saw it commit"));
  g.propose(0, "only 2 saw it commit");
  g.run([&](const Envelope& e) { return is_commit_vote(e.message) && e.to != g.ids[2]; });
  REQUIRE(g.decided[2].size() == 1);
  for (std::size_t i : {0u, 1u, 3u}) REQUIRE(g.decided[i].empty());
  // Everyone times out; replica 2 sends nothing from now on but its
  // suspicion and its view change (no blocks).
  for (std::size_t i = 0; i < 4; ++i) g.timeout(i);
  g.run([&](const Envelope& e) {
    return e.from == g.ids[2] && !std::holds_alternative<ViewChange>(e.message) &&
           !std::holds_alternative<Vote>(e.message);
  });
  for (std::size_t i : {0u, 1u, 3u}) {
    INFO("replica " << i);
    CHECK(g.replicas[i]->view() == 1);
    REQUIRE(g.decided[i].size() == 1);
    CHECK(header_hash(g.decided[i][0].header.header) == expected);
  }
  // The new leader goes on at once, without a fetch.
  REQUIRE(g.replicas[1]->leading());
  CHECK(g.replicas[1]->can_propose());
}

TEST_CASE("agreement: the leader proposes the next block while the one in flight commits") {
  Group g(4);
  const Hash first = header_hash(g.header_for(0, "first"));
  g.propose(0, "first");
  CHECK_FALSE(g.replicas[0]->can_propose_next());  // not prepared yet
  while (!g.replicas[0]->can_propose_next()) REQUIRE(g.step());
  CHECK(g.decided[1].empty());  // the followers have not committed it yet
  g.propose_next(0, "second");
  CHECK(g.replicas[0]->proposing_next());
  CHECK_FALSE(g.replicas[0]->can_propose_next());  // one block above the one in flight
  // A follower keeps it for when the block below commits, and fetches nothing.
  const auto* early = std::get_if<Proposal>(&g.queue.back().message);
  REQUIRE(early);
  CHECK(g.replicas[3]->check_proposal(g.ids[0], *early) == Agreement::Verdict::kLater);
  // A vote for it that comes before the block below commits here is kept,
  // not taken for a sign that this replica missed a commit; one two heights
  // up is.
  const Hash second = header_hash(early->header);
  const Vote soon{VotePhase::kPrepare, 0, 1, second,
                  g.signers[2]->sign(prepare_signing_bytes(kNet, 0, 1, second))};
  CHECK_FALSE(g.replicas[0]->on_vote(g.ids[2], soon).fetch_from);
  const Vote far{VotePhase::kPrepare, 0, 2, second,
                 g.signers[2]->sign(prepare_signing_bytes(kNet, 0, 2, second))};
  CHECK(g.replicas[0]->on_vote(g.ids[2], far).fetch_from == g.ids[2]);
  g.run();
  for (std::size_t i = 0; i < 4; ++i) {
    INFO("replica " << i);
    REQUIRE(g.decided[i].size() == 2);
    CHECK(header_hash(g.decided[i][0].header.header) == first);
    CHECK(g.decided[i][1].header.header.prev_hash == first);
    CHECK(g.decided[i][1].body == body_of("second"));
    CHECK(verify_quorum(g.decided[i][1].header, g.validators, modeled_verifier()));
  }
  CHECK(g.fetches.empty());
  CHECK_FALSE(g.replicas[0]->proposing_next());
  CHECK(g.replicas[0]->can_propose());
}

TEST_CASE("agreement: without pipelining the leader waits for the block in flight to commit") {
  Group g(4, 10, false);
  g.propose(0, "first");
  while (g.step()) CHECK_FALSE(g.replicas[0]->can_propose_next());
  CHECK(g.decided[0].size() == 1);
  CHECK(g.replicas[0]->can_propose());
}

TEST_CASE("agreement: a restarted leader keeps the block it proposed above the one in flight") {
  Group g(4);
  g.propose(0, "first");
  while (!g.replicas[0]->can_propose_next()) REQUIRE(g.step());
  g.propose_next(0, "second");
  const Bytes saved = g.replicas[0]->durable();
  g.replicas[0] = g.make(0);
  g.replicas[0]->load(std::nullopt, ByteView(saved));
  CHECK(g.replicas[0]->proposing_next());
  CHECK_FALSE(g.replicas[0]->can_propose_next());  // never another one in this view
  g.run();
  for (std::size_t i = 0; i < 4; ++i) {
    INFO("replica " << i);
    REQUIRE(g.decided[i].size() == 2);
    CHECK(g.decided[i][1].body == body_of("second"));
  }
}

TEST_CASE("agreement: a block proposed above the one in flight lapses with its view") {
  Group g(4);
  const Hash first = header_hash(g.header_for(0, "first"));
  g.propose(0, "first");
  while (!g.replicas[0]->can_propose_next()) REQUIRE(g.step());
  g.propose_next(0, "second");
  g.queue.clear();  // the leader's messages are lost, and so is the leader
  g.lose_leader(0);
  // The new view carries the block the leader prepared, if a quorum saw it
  // prepared, or starts afresh: never the lapsed block above it.
  for (std::size_t i = 1; i < 4; ++i) {
    INFO("replica " << i);
    CHECK(g.replicas[i]->view() == 1);
    for (const auto& d : g.decided[i]) CHECK_FALSE(d.body == body_of("second"));
    if (!g.decided[i].empty()) CHECK(header_hash(g.decided[i][0].header.header) == first);
  }
  // The old leader, back, enters the new view and drops it.
  g.down.clear();
  CHECK(g.replicas[0]->proposing_next());
  REQUIRE(g.replicas[1]->new_view());
  g.handle(0, g.replicas[0]->on_new_view(g.ids[1], *g.replicas[1]->new_view()));
  CHECK(g.replicas[0]->view() == 1);
  CHECK_FALSE(g.replicas[0]->proposing_next());
}
