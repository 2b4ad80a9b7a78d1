// The `fhir:` section of a record node's node file: where the gateway
// listens, its optional TLS certificate, the API keys (stored as SHA-256
// hashes) and the identities they stand for, and its limits.
#pragma once

#include <string>
#include <vector>

#include "common/types.hpp"

namespace mhr::fhir {

struct ApiKey {
  std::string name;  // the identity: a clinician or institution name
  std::string kind;  // "clinician" or "institution"
  Hash sha256;       // of the key as the client sends it
  // Not the institution's (another practice, a researcher): reads only
  // what patients' consents grant it, writes nothing.
  bool external = false;
};

struct FhirConfig {
  bool enabled = false;
  std::string host = "127.0.0.1";
  int port = 0;
  std::string tls_cert;  // PEM files; both empty: plain HTTP
  std::string tls_key;
  std::vector<ApiKey> api_keys;
  std::size_t max_body_bytes = 16u << 20;
  std::size_t max_bundle_entries = 5000;
  int threads = 4;
  TimeUs node_timeout_us = 60 * kUsPerSecond;  // a node silent this long fails the request
};

// Reads the `fhir` section of the node file `path` (enabled = false when it
// has none). Relative TLS paths are resolved against the node file's
// directory. Throws ConfigError naming file, line and key.
FhirConfig load_fhir_config(const std::string& path);

}  // namespace mhr::fhir
