// Reading and checking the fhir: section of the node file.
#include "edge_node/fhir/config.hpp"

#include <filesystem>
#include <fstream>
#include <set>

#include "common/config.hpp"

namespace mhr::fhir {

namespace {

std::string resolve(const std::string& file, const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_absolute()) return path.lexically_normal().string();
  return (std::filesystem::path(file).parent_path() / path).lexically_normal().string();
}

std::string readable_file(const ConfigNode& n, const std::string& node_file) {
  const std::string path = resolve(node_file, n.as_string());
  if (!std::ifstream(path)) n.fail("cannot read '" + path + "'");
  return path;
}

}  // namespace

FhirConfig load_fhir_config(const std::string& path) {
  FhirConfig c;
  const ConfigNode root = ConfigNode::load_file(path);
  auto f = root.optional("fhir");
  if (!f || f->yaml().IsNull()) return c;
  if (!f->is_map()) f->fail("expected a map with listen, api_keys, ...");
  f->allow_only(
      {"listen", "tls", "api_keys", "max_body", "max_bundle_entries", "threads", "node_timeout"});
  c.enabled = true;

  const ConfigNode listen = f->required("listen");
  const std::string hp = listen.as_string();
  const auto colon = hp.rfind(':');
  if (colon == std::string::npos || colon == 0)
    listen.fail("expected HOST:PORT, e.g. 127.0.0.1:8443 or 0.0.0.0:8443");
  c.host = hp.substr(0, colon);
  try {
    std::size_t used = 0;
    c.port = std::stoi(hp.substr(colon + 1), &used);
    if (used != hp.size() - colon - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    listen.fail("the port of '" + hp + "' is not a number");
  }
  if (c.port < 1 || c.port > 65535) listen.fail("the port must be between 1 and 65535");

  if (auto tls = f->optional("tls")) {
    tls->allow_only({"cert", "key"});
    c.tls_cert = readable_file(tls->required("cert"), path);
    c.tls_key = readable_file(tls->required("key"), path);
  }

  const ConfigNode keys = f->required("api_keys");
  if (!keys.is_sequence() || keys.size() == 0)
    keys.fail(
        "expected a list of {name, kind, sha256}: without keys nobody could call the "
        "gateway");
  std::set<std::string> names;
  std::set<Hash> hashes;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const ConfigNode k = keys.at(i);
    k.allow_only({"name", "kind", "sha256", "external"});
    ApiKey key;
    key.name = k.required("name").as_string();
    if (key.name.empty()) k.required("name").fail("must not be empty");
    key.kind = k.optional("kind") ? k.required("kind").as_enum({"clinician", "institution"})
                                  : "institution";
    const ConfigNode h = k.required("sha256");
    auto hash = Hash::parse_hex(h.as_string());
    if (!hash)
      h.fail("expected the SHA-256 of the key in 64 hex digits (printf %s KEY | sha256sum)");
    key.sha256 = *hash;
    if (auto ext = k.optional("external")) key.external = ext->as_bool();
    if (!names.insert(key.name).second) k.required("name").fail("this name is listed twice");
    if (!hashes.insert(key.sha256).second) h.fail("this key hash is listed twice");
    c.api_keys.push_back(std::move(key));
  }

  if (auto v = f->optional("max_body")) {
    const std::uint64_t bytes = v->as_size_bytes();
    if (bytes < 1024 || bytes > (std::uint64_t{1} << 30))
      v->fail("expected a size between 1KiB and 1GiB");
    c.max_body_bytes = static_cast<std::size_t>(bytes);
  }
  c.max_bundle_entries =
      static_cast<std::size_t>(f->get_int("max_bundle_entries", 5000, 1, 100'000));
  c.threads = static_cast<int>(f->get_int("threads", c.threads, 1, 64));
  if (auto v = f->optional("node_timeout")) {
    c.node_timeout_us = v->as_duration_us();
    if (c.node_timeout_us < kUsPerSecond || c.node_timeout_us > 3600 * kUsPerSecond)
      v->fail("expected a duration between 1s and 1h");
  }
  return c;
}

}  // namespace mhr::fhir
