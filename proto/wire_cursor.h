// Bounds-checked cursors over a byte span, used by every encoder and decoder in proto/.
//
// Both keep the first error and ignore every operation after it, so a codec function reads
// or writes its fields one after another and checks once at the end:
//   WireReader r(in);  auto a = r.varint();  auto b = r.u32();  if (!r) return r.failure();
// Values read after an error are 0 or empty; nothing is ever read or written out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "proto/errc.h"
#include "proto/varint.h"

namespace dwcp::proto {

class WireReader {
 public:
  explicit WireReader(std::span<const std::byte> in) noexcept : in_(in) {}

  std::uint64_t varint() noexcept {
    if (failed_) return 0;
    auto decoded = decode_varint(in_.subspan(pos_));
    if (!decoded) return fail(decoded.error());
    pos_ += decoded->second;
    return decoded->first;
  }
  // A variable-length integer that must take exactly one byte (frame types).
  std::uint64_t minimal_type() noexcept {
    if (failed_) return 0;
    if (pos_ == in_.size()) return fail(Errc::truncated);
    const auto byte = static_cast<std::uint8_t>(in_[pos_]);
    if (byte >= 0x40) return fail(Errc::unknown_frame);
    ++pos_;
    return byte;
  }
  std::uint8_t u8() noexcept {
    if (failed_) return 0;
    if (pos_ == in_.size()) return static_cast<std::uint8_t>(fail(Errc::truncated));
    return static_cast<std::uint8_t>(in_[pos_++]);
  }
  std::uint32_t u32() noexcept {
    const auto b = bytes(4);
    if (b.empty()) return 0;
    return (std::uint32_t{static_cast<std::uint8_t>(b[0])} << 24) |
           (std::uint32_t{static_cast<std::uint8_t>(b[1])} << 16) |
           (std::uint32_t{static_cast<std::uint8_t>(b[2])} << 8) |
           std::uint32_t{static_cast<std::uint8_t>(b[3])};
  }
  // The next `n` bytes, or an empty span and truncated.
  std::span<const std::byte> bytes(std::uint64_t n) noexcept {
    if (failed_) return {};
    if (n > in_.size() - pos_) {
      fail(Errc::truncated);
      return {};
    }
    const auto out = in_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }
  // Everything left.
  std::span<const std::byte> rest() noexcept { return bytes(remaining()); }

  // Records `code` unless an error is already recorded; returns 0 for convenience.
  std::uint64_t fail(Errc code) noexcept {
    if (!failed_) {
      failed_ = true;
      error_ = code;
    }
    return 0;
  }

  explicit operator bool() const noexcept { return !failed_; }
  [[nodiscard]] Errc error() const noexcept { return error_; }
  [[nodiscard]] std::unexpected<Errc> failure() const noexcept { return std::unexpected(error_); }
  [[nodiscard]] std::size_t consumed() const noexcept { return pos_; }
  [[nodiscard]] std::size_t remaining() const noexcept { return in_.size() - pos_; }

 private:
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
  Errc error_ = Errc::truncated;
};

class WireWriter {
 public:
  explicit WireWriter(std::span<std::byte> out) noexcept : out_(out) {}

  void varint(std::uint64_t value) noexcept {
    const std::size_t size = varint_size(value);
    if (size == 0) return fail(Errc::value_too_large);
    if (std::byte* p = reserve(size)) put_varint(p, value, size);
  }
  void u8(std::uint8_t value) noexcept {
    if (std::byte* p = reserve(1)) *p = static_cast<std::byte>(value);
  }
  void u32(std::uint32_t value) noexcept {
    if (std::byte* p = reserve(4)) {
      for (int i = 3; i >= 0; --i) {
        p[i] = static_cast<std::byte>(value & 0xff);
        value >>= 8;
      }
    }
  }
  void bytes(std::span<const std::byte> data) noexcept {
    if (data.empty()) return;
    if (std::byte* p = reserve(data.size())) std::memcpy(p, data.data(), data.size());
  }
  void zeros(std::size_t n) noexcept {
    if (n == 0) return;
    if (std::byte* p = reserve(n)) std::memset(p, 0, n);
  }
  // `n` bytes for the caller to fill, or nullptr (and no_space).
  std::byte* reserve(std::size_t n) noexcept {
    if (failed_) return nullptr;
    if (n > out_.size() - pos_) {
      fail(Errc::no_space);
      return nullptr;
    }
    std::byte* p = out_.data() + pos_;
    pos_ += n;
    return p;
  }
  void fail(Errc code) noexcept {
    if (!failed_) {
      failed_ = true;
      error_ = code;
    }
  }

  explicit operator bool() const noexcept { return !failed_; }
  [[nodiscard]] Errc error() const noexcept { return error_; }
  [[nodiscard]] std::size_t written() const noexcept { return pos_; }
  // Bytes written, or the first error.
  [[nodiscard]] Result<std::size_t> result() const noexcept {
    if (failed_) return std::unexpected(error_);
    return pos_;
  }

 private:
  std::span<std::byte> out_;
  std::size_t pos_ = 0;
  bool failed_ = false;
  Errc error_ = Errc::no_space;
};

}  // namespace dwcp::proto
