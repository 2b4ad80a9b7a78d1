// mhr register / submit / read: a hospital system's or a researcher's client
// of a running deployment, over CURVE with a registered client key.
#pragma once

#include <CLI/CLI.hpp>

namespace mhr {

void add_client_commands(CLI::App& app);

}  // namespace mhr
