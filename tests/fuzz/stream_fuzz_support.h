// What the stream-buffer fuzz targets share: a reader over the fuzz input, a check that
// traps (so libFuzzer and the replay driver both catch it), and the reference stream both
// sides of a stream carry.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dwcp::fuzz {

inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Byte `offset` of the reference stream.
inline std::uint8_t reference_byte(std::uint64_t offset) {
  return static_cast<std::uint8_t>((offset * 167 + (offset >> 7) * 13 + 5) & 0xff);
}

// Reads the input front to back; past its end every read gives 0.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  [[nodiscard]] bool empty() const { return at_ >= size_; }
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(byte() << 8 | byte()); }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

}  // namespace dwcp::fuzz
