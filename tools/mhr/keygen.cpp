#include "tools/mhr/keygen.hpp"

#include <cstdio>
#include <memory>
#include <string>

#include "common/crypto.hpp"
#include "common/net/deployment.hpp"

namespace mhr {

void add_keygen_command(CLI::App& app) {
  auto out = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "keygen",
      "create a node's key file (mode 0600) and print its public keys for the topology file");
  cmd->add_option("--out,-o", *out, "the key file to create; an existing file is never replaced")
      ->required()
      ->type_name("FILE");
  cmd->callback([out]() {
    try {
      const NodeKeys keys = NodeKeys::generate();
      write_key_file(*out, keys);
      const PublicKey sign_public = KeyPair::from_seed(keys.sign_seed).public_key();
      std::printf("wrote %s (mode 0600): keep it secret and back it up\n", out->c_str());
      std::printf("send these public keys to the authority that writes the topology file:\n");
      std::printf("  sign_key: %s\n", sign_public.hex().c_str());
      std::printf("  curve_key: \"%s\"\n", keys.curve.public_z85.c_str());
      std::fflush(stdout);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mhr keygen: %s\n", e.what());
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace mhr
