#include "tools/mhr/keygen.hpp"

#include <array>
#include <cstdio>
#include <memory>
#include <string>

#include "common/crypto.hpp"
#include "common/key_wrap.hpp"
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
      std::printf("  box_key: %s   # record nodes: patients seal data keys to it\n",
                  box_keys_of(keys.sign_seed).public_key.hex().c_str());

      std::fflush(stdout);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mhr keygen: %s\n", e.what());
      throw CLI::RuntimeError(1);
    }
  });
}

void add_fhir_key_command(CLI::App& app) {
  struct Args {
    std::string name;
    std::string kind = "clinician";
    bool external = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "fhir-key", "make an API key for a record node's FHIR gateway and its fhir.api_keys entry");
  cmd->add_option("--name", a->name, "the clinician or institution the key stands for")->required();
  cmd->add_option("--kind", a->kind, "clinician or institution")
      ->check(CLI::IsMember({"clinician", "institution"}));
  cmd->add_flag("--external", a->external,
                "a party outside the institution: reads only what patients' Consents grant it");
  cmd->callback([a]() {
    std::array<std::uint8_t, 32> raw{};
    secure_random(raw);
    const std::string key = to_hex(raw);
    std::printf("API key (give it to %s; it is shown only now):\n  %s\n", a->name.c_str(),
                key.c_str());
    std::printf("add to the fhir.api_keys of the node file (the key itself is not stored):\n");
    std::printf("    - name: %s\n      kind: %s\n%s      sha256: %s\n", a->name.c_str(),
                a->kind.c_str(), a->external ? "      external: true\n" : "",
                sha256(as_bytes(key)).hex().c_str());
    std::fflush(stdout);
  });
}

}  // namespace mhr
