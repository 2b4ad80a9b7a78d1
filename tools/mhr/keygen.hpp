// mhr keygen: creates a node's key file (mode 0600) and prints the public
// keys an operator sends to the authority that writes the topology file.
#pragma once

#include <CLI/CLI.hpp>

namespace mhr {

// Registers `keygen --out FILE` on `app`. The subcommand runs from its own
// callback; on failure it prints the reason and throws CLI::RuntimeError
// with exit code 1 (2 for a bad command line, through CLI11).
void add_keygen_command(CLI::App& app);

// Registers `fhir-key --name NAME [--kind clinician|institution]`: prints a
// new random API key and the node file entry with its SHA-256.
void add_fhir_key_command(CLI::App& app);

}  // namespace mhr
