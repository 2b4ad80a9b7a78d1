// libFuzzer target: configuration loading. The first input byte picks what
// the rest is: a scenario, a deployment's topology file, a node file, a key
// file, or a command-line override followed by a scenario. Loading must
// succeed or throw ConfigError (which names file, line and key); any other
// exception or a crash is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/config.hpp"
#include "common/net/deployment.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tools/sim/scenario.hpp"

using namespace mhr;

namespace {

// Loaders that read files get the input through one file in a private
// directory, removed at exit. A plain array: it outlives every exit handler.
char g_scratch[] = "/tmp/mhr-fuzz-config-XXXXXX";

const char* scratch_dir() {
  static const bool made = [] {
    FUZZ_CHECK(::mkdtemp(g_scratch) != nullptr);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(g_scratch, ec);
    });
    return true;
  }();
  (void)made;
  return g_scratch;
}

std::string write_input(const std::string& text, std::filesystem::perms mode) {
  const std::string path = std::string(scratch_dir()) + "/input.yaml";
  std::filesystem::remove(path);
  std::FILE* f = std::fopen(path.c_str(), "w");
  FUZZ_CHECK(f != nullptr);
  FUZZ_CHECK(std::fwrite(text.data(), 1, text.size(), f) == text.size());
  std::fclose(f);
  std::filesystem::permissions(path, mode, std::filesystem::perm_options::replace);
  return path;
}

void scenario(const std::string& text) {
  const Scenario s = load_scenario_string(text, "fuzz.yaml");
  FUZZ_CHECK(!s.modes.empty());
  FUZZ_CHECK(s.network_count() > 0);
}

void deployment(const std::string& text) {
  const Deployment d = load_deployment(write_input(text, std::filesystem::perms::owner_read));
  FUZZ_CHECK(d.topology != nullptr);
  FUZZ_CHECK(d.address.size() == d.topology->node_count());
}

void node_file(const std::string& text) {
  const NodeConfig c = load_node_config(write_input(text, std::filesystem::perms::owner_read));
  FUZZ_CHECK(!c.data_dir.empty() && !c.key_file.empty() && !c.topology_file.empty());
}

void key_file(const std::string& text) {
  const NodeKeys k = load_key_file(
      write_input(text, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  FUZZ_CHECK(k.curve.public_z85.size() == 40);
}

// "key=value" on the first line, the scenario after it.
void override_then_scenario(const std::string& text) {
  const std::size_t nl = text.find('\n');
  if (nl == std::string::npos) return;
  const Scenario s = load_scenario_string(text.substr(nl + 1), "fuzz.yaml", {text.substr(0, nl)});
  FUZZ_CHECK(!s.modes.empty());
}

using Loader = void (*)(const std::string&);
constexpr Loader kLoaders[] = {scenario, deployment, node_file, key_file, override_then_scenario};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    kLoaders[data[0] % std::size(kLoaders)](text);
  } catch (const ConfigError& e) {
    FUZZ_CHECK(e.what()[0] != '\0');
  }
  return 0;
}
