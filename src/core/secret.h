// Comparing secrets (the dashboard's and the coordinator's tokens) without
// an early exit, so the time a comparison takes tells nothing about how much
// of a guess was right. Header-only; any thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace stampede::core {

inline bool SameSecret(std::string_view given, std::string_view secret) {
  unsigned char diff = given.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ (i < secret.size() ? secret[i] : 0));
  }
  return diff == 0;
}

}  // namespace stampede::core
