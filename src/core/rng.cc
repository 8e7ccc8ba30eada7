#include "core/rng.h"

#include <sys/random.h>

#include <chrono>

namespace stampede::core {

Rng Rng::FromOs() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
    // Cannot fail for 8 bytes once the kernel's pool is ready; never a
    // constant seed anyway.
    seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return Rng(seed);
}

}  // namespace stampede::core
