// A random workload of versioned blocks for the block tests, and what was sent as each
// (key, version), to check what arrives against.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <utility>
#include <vector>

namespace dwcp::transport::test {

// A random workload: each step picks a key, and sends either a new random block for it or
// the previous version changed by 1 byte, by a run of 8–64 bytes, in a tenth of its bytes,
// in all of them, or resized. It remembers every version, so that what arrives can be
// checked against exactly what was sent as that (key, version).
class BlockWorkload {
 public:
  BlockWorkload(std::uint64_t keys, std::size_t max_block, std::uint64_t seed)
      : keys_(keys), max_block_(max_block), rng_(seed) {}

  // The next block to send; commit() once the connection took it.
  std::pair<std::uint64_t, std::vector<std::byte>> next() {
    if (pending_) return *pending_;
    const std::uint64_t key = rng_() % keys_;
    auto& versions = sent_[key];
    std::vector<std::byte> block = versions.empty() ? random_block() : versions.back();
    if (!versions.empty()) change(block);
    pending_.emplace(key, std::move(block));
    return *pending_;
  }
  void commit() {
    sent_[pending_->first].push_back(std::move(pending_->second));
    pending_.reset();
    ++count_;
  }
  // The next `n` blocks, each taken as sent (for a sender that must not share this object
  // with the thread checking what arrives).
  std::vector<std::pair<std::uint64_t, std::vector<std::byte>>> plan(std::size_t n) {
    std::vector<std::pair<std::uint64_t, std::vector<std::byte>>> out;
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(next());
      commit();
    }
    return out;
  }
  [[nodiscard]] std::uint64_t count() const { return count_; }
  [[nodiscard]] std::uint64_t bytes() const {
    std::uint64_t total = 0;
    for (const auto& [key, versions] : sent_) {
      for (const std::vector<std::byte>& b : versions) total += b.size();
    }
    return total;
  }
  // The block sent as (key, version), or nullptr.
  [[nodiscard]] const std::vector<std::byte>* sent(std::uint64_t key, std::uint64_t version) const {
    auto it = sent_.find(key);
    if (it == sent_.end() || version == 0 || version > it->second.size()) return nullptr;
    return &it->second[version - 1];
  }

 private:
  std::vector<std::byte> random_block() {
    std::vector<std::byte> b(1 + rng_() % max_block_);
    for (auto& x : b) x = static_cast<std::byte>(rng_());
    return b;
  }
  void change(std::vector<std::byte>& b) {
    switch (rng_() % 8) {
      case 0:
      case 1:
      case 2:  // one byte
        b[rng_() % b.size()] ^= std::byte{static_cast<unsigned char>(1 + rng_() % 255)};
        break;
      case 3:
      case 4: {  // a run of 8–64 bytes
        const std::size_t length = std::min<std::size_t>(b.size(), 8 + rng_() % 57);
        const std::size_t at = rng_() % (b.size() - length + 1);
        for (std::size_t i = 0; i < length; ++i) b[at + i] = static_cast<std::byte>(rng_());
        break;
      }
      case 5:  // a tenth, scattered
        for (std::size_t i = 0; i < b.size() / 10 + 1; ++i) {
          b[rng_() % b.size()] = static_cast<std::byte>(rng_());
        }
        break;
      case 6:  // everything
        b = random_block();
        break;
      default:  // resized: grows or shrinks, the rest kept
        b.resize(1 + rng_() % max_block_, std::byte{0x77});
        break;
    }
  }

  std::uint64_t keys_;
  std::size_t max_block_;
  std::mt19937_64 rng_;
  std::map<std::uint64_t, std::vector<std::vector<std::byte>>> sent_;
  std::optional<std::pair<std::uint64_t, std::vector<std::byte>>> pending_;
  std::uint64_t count_ = 0;
};

}  // namespace dwcp::transport::test
