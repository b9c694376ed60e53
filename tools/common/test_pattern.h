// The test data dwcp-send generates and dwcp-recv verifies: a pure function of (stream key,
// byte offset in the stream), so corrupted, lost, duplicated or reordered bytes all show
// up as a mismatch, whatever the message boundaries were.
//
// Byte `o` of stream `k` is byte (o mod 8) of word(k, o / 8), least significant first:
// - every kStampEveryWords-th word (a "stamp", once per 4 KiB) is
//   pattern_word(k, i) = splitmix64(i + k * 0x9e3779b97f4a7c15) (Steele, Lea and Flood,
//   "Fast splittable pseudorandom number generators", OOPSLA 2014): it ties each 4 KiB to
//   its stream and its position;
// - the others come from a fixed table of 2^17 - 1 splitmix64 words, starting at a word
//   the key picks, so that generating and checking the bulk of the data is a memcpy or a
//   memcmp (with a word per byte computed, both cost more than the transport's own work
//   per byte).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace dwcp::tools {

// One stamp every this many words (4 KiB).
inline constexpr std::uint64_t kStampEveryWords = 512;

// The pattern word number `index` of stream `key`, when `index` is a stamp's.
std::uint64_t pattern_word(std::uint64_t key, std::uint64_t index) noexcept;

// Writes the pattern's bytes [offset, offset + out.size()) of stream `key` into `out`.
void fill_pattern(std::uint64_t key, std::uint64_t offset, std::span<std::byte> out) noexcept;

// Whether `data` equals the pattern's bytes [offset, offset + data.size()) of stream `key`.
[[nodiscard]] bool matches_pattern(std::uint64_t key, std::uint64_t offset,
                                   std::span<const std::byte> data) noexcept;

// Checks one received stream, message by message, against the pattern.
class StreamVerifier {
 public:
  explicit StreamVerifier(std::uint64_t key) noexcept : key_(key) {}

  // Checks the next message; a mismatch counts one error. The offset advances either way,
  // so one bad message does not condemn the rest.
  void consume(std::span<const std::byte> message) noexcept {
    if (!matches_pattern(key_, offset_, message)) ++errors_;
    offset_ += message.size();
    ++messages_;
  }

  [[nodiscard]] std::uint64_t bytes() const noexcept { return offset_; }
  [[nodiscard]] std::uint64_t messages() const noexcept { return messages_; }
  [[nodiscard]] std::uint64_t errors() const noexcept { return errors_; }

 private:
  std::uint64_t key_;
  std::uint64_t offset_ = 0;
  std::uint64_t messages_ = 0;
  std::uint64_t errors_ = 0;
};

}  // namespace dwcp::tools
