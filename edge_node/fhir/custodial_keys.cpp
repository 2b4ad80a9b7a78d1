#include "edge_node/fhir/custodial_keys.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "common/identity.hpp"

namespace mhr::fhir {

namespace {
UserId user_of(const SecretSeed& seed, CryptoMode mode) {
  return user_id_of(make_signer(mode, seed)->public_key());
}

void append_durably(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + path + ": " + std::strerror(saved));
}
}  // namespace

CustodialKeys::CustodialKeys(std::string path, CryptoMode mode)
    : path_(std::move(path)), mode_(mode) {
  std::ifstream in(path_);
  std::string user_hex, seed_hex;
  for (int line = 1; in >> user_hex >> seed_hex; ++line) {
    auto user = UserId::parse_hex(user_hex);
    auto seed = FixedBytes<32>::parse_hex(seed_hex);
    if (!user || !seed || user_of(SecretSeed{*seed}, mode_) != *user)
      throw std::runtime_error(path_ + ":" + std::to_string(line) +
                               ": not a custodial key line (user hex, seed hex) or the seed is "
                               "not the user's");
    seeds_.emplace(*user, SecretSeed{*seed});
  }
}

UserId CustodialKeys::create() {
  SecretSeed seed;
  secure_random(seed.bytes);
  const UserId user = user_of(seed, mode_);
  std::lock_guard lock(mutex_);
  append_durably(path_, user.hex() + " " + seed.hex() + "\n");
  seeds_.emplace(user, seed);
  return user;
}

std::optional<SecretSeed> CustodialKeys::seed_of(const UserId& user) const {
  std::lock_guard lock(mutex_);
  auto it = seeds_.find(user);
  if (it == seeds_.end()) return std::nullopt;
  return it->second;
}

std::size_t CustodialKeys::size() const {
  std::lock_guard lock(mutex_);
  return seeds_.size();
}

}  // namespace mhr::fhir
