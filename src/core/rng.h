// A small, fast random generator (xoshiro256**, the public-domain algorithm
// by Blackman and Vigna), satisfying UniformRandomBitGenerator. Used for
// per-VU randomness and for trace/span ids. Written here because
// std::mt19937_64 carries 2.5 KiB of state, which alone would exceed the
// per-VU memory budget (≤ 4 KiB for a sleeping VU). Not thread-safe: one per
// owner.
#pragma once

#include <cstdint>
#include <limits>

namespace stampede::core {

class Rng {
 public:
  using result_type = uint64_t;
  explicit Rng(uint64_t seed = 0) { seed_state(seed); }
  // Seeds from the OS (getrandom(2)).
  static Rng FromOs();

  void seed(uint64_t seed) { seed_state(seed); }
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<uint64_t>::max(); }

  result_type operator()() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  // The state is filled from splitmix64, as the algorithm's authors advise.
  void seed_state(uint64_t seed) {
    for (uint64_t& word : s_) {
      seed += 0x9E3779B97F4A7C15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      word = z ^ (z >> 31);
    }
  }
  uint64_t s_[4];
};

}  // namespace stampede::core
