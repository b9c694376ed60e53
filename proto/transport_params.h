// Transport parameters exchanged in CLIENT_HELLO and SERVER_HELLO (docs/protocol.md §6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "proto/errc.h"

namespace dwcp::proto {

inline constexpr std::size_t kMaxTransportParameterEntries = 64;
inline constexpr std::size_t kMaxTransportParametersBytes = 1024;
inline constexpr std::uint64_t kMinDatagramSize = 1200;
inline constexpr std::uint64_t kMaxDatagramSize = 65527;
// The datagram size a connection starts with: the UDP payload of a 1500-byte IPv4 packet.
// Larger ones go once a PMTU_PROBE of their size was acknowledged (docs/protocol.md §7.5).
inline constexpr std::uint64_t kBaseDatagramSize = 1472;

enum class TransportParameterId : std::uint64_t {
  initial_max_data = 0x01,
  initial_max_stream_data = 0x02,
  initial_max_streams = 0x03,
  max_idle_timeout = 0x04,
  max_datagram_size = 0x05,
  max_ack_delay = 0x06,
  ack_delay_exponent = 0x07,
  delta_cache_keys = 0x08,
  delta_cache_bytes = 0x09,
};

// Every field starts at its default: a list without an entry means the default.
struct TransportParameters {
  std::uint64_t initial_max_data = 1 << 20;            // bytes, per connection
  std::uint64_t initial_max_stream_data = 1 << 18;     // bytes, per stream
  std::uint64_t initial_max_streams = 100;             // ≤ 2^60
  std::uint64_t max_idle_timeout_ms = 30'000;          // 0 disables
  std::uint64_t max_datagram_size = kMaxDatagramSize;  // kMinDatagramSize..kMaxDatagramSize
  std::uint64_t max_ack_delay_ms = 25;                 // < 2^14
  std::uint64_t ack_delay_exponent = 3;                // ≤ 20
  std::uint64_t delta_cache_keys = 0;                  // ≤ 2^32; 0: no deltas
  std::uint64_t delta_cache_bytes = 0;                 // ≤ 2^40

  friend bool operator==(const TransportParameters&, const TransportParameters&) = default;
};

// The name docs/protocol.md §6 gives the parameter ("initial_max_data", ...).
std::string_view to_string(TransportParameterId id) noexcept;
// The field of `params` that parameter `id` sets.
std::uint64_t parameter_value(const TransportParameters& params, TransportParameterId id) noexcept;

// invalid_value unless every field is within the range of §6.
Result<void> validate(const TransportParameters& params) noexcept;

// Writes every parameter (id, length, varint value); bytes written, or no_space /
// invalid_value.
Result<std::size_t> encode_transport_parameters(std::span<std::byte> out,
                                                const TransportParameters& params) noexcept;

// Parses a whole list: unknown ids are skipped; a duplicate id (known or not), a value
// that does not fill its length exactly, more than kMaxTransportParameterEntries entries or a value
// out of range give transport_parameter; a list over kMaxTransportParametersBytes gives
// limit_exceeded; an entry cut short gives truncated.
Result<TransportParameters> decode_transport_parameters(std::span<const std::byte> in) noexcept;

}  // namespace dwcp::proto
