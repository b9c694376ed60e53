#include "simd/xor_delta.h"

#include "simd/xor_kernels.h"

namespace dwcp::simd {

std::string_view to_string(DeltaErrc code) noexcept {
  switch (code) {
    case DeltaErrc::not_smaller:
      return "delta not smaller than the block";
    case DeltaErrc::no_space:
      return "output buffer too small";
    case DeltaErrc::truncated:
      return "truncated delta";
    case DeltaErrc::malformed:
      return "malformed delta";
  }
  return "unknown delta error";
}

DeltaResult<void> xor_into(std::span<std::byte> out, std::span<const std::byte> a,
                           std::span<const std::byte> b) noexcept {
  if (a.size() < out.size() || b.size() < out.size()) return std::unexpected(DeltaErrc::no_space);
  active_xor_kernels().xor_into(out.data(), a.data(), b.data(), out.size());
  return {};
}

DeltaResult<std::size_t> encode_delta(std::span<const std::byte> base,
                                      std::span<const std::byte> block,
                                      std::span<std::byte> out) noexcept {
  if (out.size() < max_encoded_size(block.size())) return std::unexpected(DeltaErrc::no_space);
  return active_xor_kernels().encode(base.data(), base.size(), block.data(), block.size(),
                                     out.data());
}

DeltaResult<std::uint64_t> delta_block_size(std::span<const std::byte> delta) noexcept {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < delta.size() && i < 10; ++i) {
    const auto byte = static_cast<std::uint8_t>(delta[i]);
    if (i == 9 && byte > 1) return std::unexpected(DeltaErrc::malformed);
    value |= std::uint64_t{byte & 0x7fu} << (7 * i);
    if ((byte & 0x80u) == 0) return value;
  }
  return std::unexpected(delta.size() < 10 ? DeltaErrc::truncated : DeltaErrc::malformed);
}

DeltaResult<std::size_t> decode_delta(std::span<const std::byte> base,
                                      std::span<const std::byte> delta,
                                      std::span<std::byte> out) noexcept {
  return active_xor_kernels().decode(base.data(), base.size(), delta.data(), delta.size(),
                                     out.data(), out.size());
}

}  // namespace dwcp::simd
