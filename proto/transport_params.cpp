#include "proto/transport_params.h"

#include <algorithm>
#include <array>

#include "proto/varint.h"
#include "proto/wire_cursor.h"

namespace dwcp::proto {
namespace {

using Field = std::uint64_t TransportParameters::*;

struct ParameterSpec {
  TransportParameterId id;
  std::string_view name;
  Field field;
  std::uint64_t min;
  std::uint64_t max;
};

constexpr std::array<ParameterSpec, 9> kSpecs{{
    {TransportParameterId::initial_max_data, "initial_max_data",
     &TransportParameters::initial_max_data, 0, kMaxVarint},
    {TransportParameterId::initial_max_stream_data, "initial_max_stream_data",
     &TransportParameters::initial_max_stream_data, 0, kMaxVarint},
    {TransportParameterId::initial_max_streams, "initial_max_streams",
     &TransportParameters::initial_max_streams, 0, std::uint64_t{1} << 60},
    {TransportParameterId::max_idle_timeout, "max_idle_timeout",
     &TransportParameters::max_idle_timeout_ms, 0, kMaxVarint},
    {TransportParameterId::max_datagram_size, "max_datagram_size",
     &TransportParameters::max_datagram_size, kMinDatagramSize, kMaxDatagramSize},
    {TransportParameterId::max_ack_delay, "max_ack_delay", &TransportParameters::max_ack_delay_ms,
     0, (1u << 14) - 1},
    {TransportParameterId::ack_delay_exponent, "ack_delay_exponent",
     &TransportParameters::ack_delay_exponent, 0, 20},
    {TransportParameterId::delta_cache_keys, "delta_cache_keys",
     &TransportParameters::delta_cache_keys, 0, std::uint64_t{1} << 32},
    {TransportParameterId::delta_cache_bytes, "delta_cache_bytes",
     &TransportParameters::delta_cache_bytes, 0, std::uint64_t{1} << 40},
}};

}  // namespace

std::string_view to_string(TransportParameterId id) noexcept {
  for (const auto& spec : kSpecs) {
    if (spec.id == id) return spec.name;
  }
  return "unknown";
}

std::uint64_t parameter_value(const TransportParameters& params, TransportParameterId id) noexcept {
  for (const auto& spec : kSpecs) {
    if (spec.id == id) return params.*spec.field;
  }
  return 0;
}

Result<void> validate(const TransportParameters& params) noexcept {
  for (const auto& spec : kSpecs) {
    const std::uint64_t value = params.*spec.field;
    if (value < spec.min || value > spec.max) return std::unexpected(Errc::invalid_value);
  }
  return {};
}

Result<std::size_t> encode_transport_parameters(std::span<std::byte> out,
                                                const TransportParameters& params) noexcept {
  if (auto valid = validate(params); !valid) return std::unexpected(valid.error());
  WireWriter w(out);
  for (const auto& spec : kSpecs) {
    const std::uint64_t value = params.*spec.field;
    w.varint(static_cast<std::uint64_t>(spec.id));
    w.varint(varint_size(value));
    w.varint(value);
  }
  return w.result();
}

Result<TransportParameters> decode_transport_parameters(std::span<const std::byte> in) noexcept {
  if (in.size() > kMaxTransportParametersBytes) return std::unexpected(Errc::limit_exceeded);
  TransportParameters params;
  std::array<std::uint64_t, kMaxTransportParameterEntries> ids{};  // every id given so far
  std::size_t entries = 0;
  WireReader r(in);
  while (r && r.remaining() > 0) {
    if (entries == kMaxTransportParameterEntries) {
      return std::unexpected(Errc::transport_parameter);
    }
    const std::uint64_t id = r.varint();
    const auto value_bytes = r.bytes(r.varint());
    if (!r) break;
    if (std::find(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(entries), id) !=
        ids.begin() + static_cast<std::ptrdiff_t>(entries)) {
      return std::unexpected(Errc::transport_parameter);  // a duplicate, known or not
    }
    ids[entries++] = id;
    for (const auto& spec : kSpecs) {
      if (static_cast<std::uint64_t>(spec.id) != id) continue;
      auto value = decode_varint(value_bytes);
      if (!value || value->second != value_bytes.size() || value->first < spec.min ||
          value->first > spec.max) {
        return std::unexpected(Errc::transport_parameter);
      }
      params.*spec.field = value->first;
    }
  }
  if (!r) return r.failure();
  return params;
}

}  // namespace dwcp::proto
