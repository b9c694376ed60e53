#include "proto/varint.h"

#include <doctest/doctest.h>

#include <array>
#include <random>

#include "proto/wire_cursor.h"
#include "tests/proto/proto_test_support.h"

using namespace dwcp::proto;
using dwcp::proto::testing::Bytes;

namespace {

Bytes hex(std::initializer_list<int> values) {
  Bytes out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

}  // namespace

TEST_CASE("the examples of RFC 9000 appendix A.1 decode and re-encode") {
  struct Example {
    Bytes wire;
    std::uint64_t value;
  };
  const Example examples[] = {
      {hex({0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c}), 151288809941952652ULL},
      {hex({0x9d, 0x7f, 0x3e, 0x7d}), 494878333},
      {hex({0x7b, 0xbd}), 15293},
      {hex({0x25}), 37},
  };
  for (const auto& e : examples) {
    auto decoded = decode_varint(e.wire);
    REQUIRE(decoded);
    CHECK(decoded->first == e.value);
    CHECK(decoded->second == e.wire.size());
    std::array<std::byte, 8> out{};
    auto size = encode_varint(out, e.value);
    REQUIRE(size);
    CHECK(Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*size)) == e.wire);
  }
  // A longer form than needed is accepted: 37 in two bytes.
  auto two_byte = decode_varint(hex({0x40, 0x25}));
  REQUIRE(two_byte);
  CHECK(two_byte->first == 37);
  CHECK(two_byte->second == 2);
}

TEST_CASE("varints round-trip at every size boundary and reject what does not fit") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t value = dwcp::proto::testing::random_varint(rng);
    std::array<std::byte, 8> out{};
    auto size = encode_varint(out, value);
    REQUIRE(size);
    CHECK(*size == varint_size(value));
    auto decoded = decode_varint(std::span(out).first(*size));
    REQUIRE(decoded);
    CHECK(decoded->first == value);
    // Every shorter prefix is truncated; a short output is no_space.
    for (std::size_t n = 0; n < *size; ++n) {
      CHECK(decode_varint(std::span(out).first(n)).error() == Errc::truncated);
      CHECK(encode_varint(std::span(out).first(n), value).error() == Errc::no_space);
    }
  }
  std::array<std::byte, 8> out{};
  CHECK(encode_varint(out, kMaxVarint + 1).error() == Errc::value_too_large);
  CHECK(varint_size(kMaxVarint + 1) == 0);
  CHECK(varint_size(63) == 1);
  CHECK(varint_size(64) == 2);
  CHECK(varint_size(16383) == 2);
  CHECK(varint_size(16384) == 4);
}

TEST_CASE("cursors keep the first error and stay in bounds") {
  const Bytes in = hex({0x25, 0x7b, 0xbd, 0x01, 0x02});
  WireReader r(in);
  CHECK(r.varint() == 37);
  CHECK(r.varint() == 15293);
  CHECK(r.bytes(3).empty());  // only two left
  CHECK_FALSE(r);
  CHECK(r.error() == Errc::truncated);
  CHECK(r.u8() == 0);  // ignored after the error
  CHECK(r.consumed() == 3);

  const Bytes two_byte_type = hex({0x40, 0x01});
  WireReader types(two_byte_type);
  types.minimal_type();
  CHECK(types.error() == Errc::unknown_frame);

  std::array<std::byte, 3> buffer{};
  WireWriter w(buffer);
  w.u8(1);
  w.u32(2);  // does not fit
  w.u8(3);   // ignored
  CHECK(w.result().error() == Errc::no_space);
  CHECK(w.written() == 1);
  WireWriter big(buffer);
  big.varint(kMaxVarint + 1);
  CHECK(big.result().error() == Errc::value_too_large);
}
