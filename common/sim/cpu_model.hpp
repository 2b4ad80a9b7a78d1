// The simulated CPU: every node is a single server whose handlers take time.
// An event that reaches a node at t starts at max(t, busy_until); what the
// handler does (receive, sign, verify, commit) is charged to it, and what it
// sends leaves at the moment of the charge so far.
#pragma once

#include "common/types.hpp"

namespace mhr {

// Default costs were measured on the development machine (the one this
// repository is built and tested on): Ed25519 through Crypto++ (KeyPair::sign
// ~13 us, ed25519_verifier().verify ~30 us), an fsynced LMDB write batch
// through open_lmdb_store (~350 us per commit plus ~1 ns per byte written),
// and message handling (decode and dispatch) ~2 us plus ~0.5 ns per byte.
struct CpuModel {
  bool enabled = true;
  TimeUs per_message_us = 2;       // per message (or client request) handled
  double per_byte_ns = 0.5;        // per byte of a received message
  TimeUs sign_us = 13;             // per Signer::sign
  TimeUs verify_us = 30;           // per Verifier::verify
  TimeUs store_commit_us = 350;    // per Store::write (one fsynced batch)
  double store_per_byte_ns = 1.0;  // per key and value byte written

  // Everything instantaneous.
  static CpuModel disabled() {
    CpuModel m;
    m.enabled = false;
    return m;
  }
};

}  // namespace mhr
