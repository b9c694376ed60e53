#include "proto/transport_params.h"

#include <doctest/doctest.h>

#include <array>
#include <random>

#include "proto/wire_cursor.h"
#include "tests/proto/proto_test_support.h"

using namespace dwcp::proto;
using dwcp::proto::testing::Bytes;

namespace {

// One entry: id, length, and a varint value of `value_size` bytes (a longer form than
// needed when value_size is larger).
void entry(WireWriter& w, std::uint64_t id, std::uint64_t value, std::size_t value_size = 0) {
  if (value_size == 0) value_size = varint_size(value);
  w.varint(id);
  w.varint(value_size);
  if (std::byte* p = w.reserve(value_size)) put_varint(p, value, value_size);
}

}  // namespace

TEST_CASE("parameters round-trip, and an empty list means the defaults") {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; ++i) {
    TransportParameters params;
    params.initial_max_data = dwcp::proto::testing::random_varint(rng);
    params.initial_max_stream_data = dwcp::proto::testing::random_varint(rng);
    params.initial_max_streams = rng() % ((std::uint64_t{1} << 60) + 1);
    params.max_idle_timeout_ms = rng() % 100000;
    params.max_datagram_size = kMinDatagramSize + rng() % (kMaxDatagramSize - kMinDatagramSize + 1);
    params.max_ack_delay_ms = rng() % 16384;
    params.ack_delay_exponent = rng() % 21;
    params.delta_cache_keys = rng() % ((std::uint64_t{1} << 32) + 1);
    params.delta_cache_bytes = rng() % ((std::uint64_t{1} << 40) + 1);
    std::array<std::byte, kMaxTransportParametersBytes> buffer{};
    auto size = encode_transport_parameters(buffer, params);
    REQUIRE(size);
    auto back = decode_transport_parameters(std::span(buffer).first(*size));
    REQUIRE(back);
    CHECK(*back == params);
  }
  auto defaults = decode_transport_parameters({});
  REQUIRE(defaults);
  CHECK(*defaults == TransportParameters{});
}

TEST_CASE("unknown ids are skipped; duplicates, bad lengths and bad values are not") {
  std::array<std::byte, 2048> buffer{};
  auto decode = [&](auto&& fill) {
    WireWriter w(buffer);
    fill(w);
    return decode_transport_parameters(std::span(buffer).first(w.written()));
  };
  auto skipped = decode([](WireWriter& w) {
    w.varint(0x1234);  // unknown, with a 3-byte value of anything
    w.varint(3);
    w.zeros(3);
    entry(w, 0x03, 7);
  });
  REQUIRE(skipped);
  CHECK(skipped->initial_max_streams == 7);

  auto longer_form = decode([](WireWriter& w) { entry(w, 0x03, 7, 8); });
  REQUIRE(longer_form);
  CHECK(longer_form->initial_max_streams == 7);

  CHECK(decode([](WireWriter& w) {
          entry(w, 0x03, 7);
          entry(w, 0x03, 8);
        }).error() == Errc::transport_parameter);
  CHECK(decode([](WireWriter& w) {
          entry(w, 0x777, 1);
          entry(w, 0x777, 1);
        }).error() == Errc::transport_parameter);
  CHECK(decode([](WireWriter& w) {  // length 2, but the value takes 1
          w.varint(0x03);
          w.varint(2);
          w.varint(7);
          w.u8(0);
        })
            .error() == Errc::transport_parameter);
  CHECK(decode([](WireWriter& w) { entry(w, 0x05, 1199); }).error() == Errc::transport_parameter);
  CHECK(decode([](WireWriter& w) { entry(w, 0x05, 65528); }).error() == Errc::transport_parameter);
  CHECK(decode([](WireWriter& w) { entry(w, 0x07, 21); }).error() == Errc::transport_parameter);
  CHECK(decode([](WireWriter& w) { entry(w, 0x06, 16384); }).error() == Errc::transport_parameter);
  CHECK(decode([](WireWriter& w) {
          for (int i = 0; i < 65; ++i) entry(w, 0x100 + static_cast<std::uint64_t>(i), 0);
        }).error() == Errc::transport_parameter);
  CHECK(decode([](WireWriter& w) {
          w.varint(0x03);
          w.varint(4);
          w.u8(1);  // cut short
        }).error() == Errc::truncated);
  const Bytes too_long(kMaxTransportParametersBytes + 1);
  CHECK(decode_transport_parameters(too_long).error() == Errc::limit_exceeded);
}

TEST_CASE("the encoder refuses values out of range and short buffers") {
  std::array<std::byte, kMaxTransportParametersBytes> buffer{};
  TransportParameters bad;
  bad.max_datagram_size = 100;
  CHECK(encode_transport_parameters(buffer, bad).error() == Errc::invalid_value);
  CHECK_FALSE(validate(bad));
  CHECK(validate(TransportParameters{}));
  CHECK(encode_transport_parameters(std::span(buffer).first(5), TransportParameters{}).error() ==
        Errc::no_space);
}
