#include "tools/common/stream_header.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace dwcp::tools;
using dwcp::simd::Hash128;
using Bytes = std::vector<std::byte>;

namespace {

Bytes encode(const StreamHeader& header) {
  Bytes out(encoded_size(header));
  const auto written = encode_header(out, header);
  REQUIRE(written.has_value());
  CHECK(*written == out.size());
  return out;
}

Bytes encode(const StreamTrailer& trailer) {
  Bytes out(kTrailerSize);
  REQUIRE(encode_trailer(out, trailer).value_or(0) == kTrailerSize);
  return out;
}

Bytes encode(const StreamVerdict& verdict) {
  Bytes out(kVerdictSize);
  REQUIRE(encode_verdict(out, verdict).value_or(0) == kVerdictSize);
  return out;
}

StreamHeader file_header(std::string path) {
  StreamHeader header;
  header.kind = ContentKind::file;
  header.size = 123456789012ULL;
  header.mode = 0644;
  header.path = std::move(path);
  return header;
}

// Every strict prefix of a frame is refused: the decoders never read past their input.
template <typename Decode>
void check_prefixes_refused(const Bytes& frame, Decode decode) {
  for (std::size_t length = 0; length < frame.size(); ++length) {
    CAPTURE(length);
    const auto result = decode(std::span<const std::byte>(frame.data(), length));
    CHECK_FALSE(result.has_value());
  }
}

}  // namespace

TEST_CASE("headers of every kind survive a round trip") {
  StreamHeader pattern;
  StreamHeader sized_pattern;
  sized_pattern.size = 64 << 20;
  StreamHeader stdin_header;
  stdin_header.kind = ContentKind::stdin_data;
  StreamHeader empty_file = file_header("dir/sub/empty");
  empty_file.size = 0;
  empty_file.mode = 0;
  for (const StreamHeader& header : {pattern, sized_pattern, stdin_header, file_header("a"),
                                     empty_file, file_header(std::string(kMaxPathLength, 'x'))}) {
    const Bytes frame = encode(header);
    CHECK(frame_type(frame) == FrameType::header);
    const auto decoded = decode_header(frame);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == header);
  }
}

TEST_CASE("the header's wire layout is fixed") {
  const Bytes frame = encode(file_header("ab"));
  const Bytes expected = {std::byte{1},    std::byte{1},
                          std::byte{1},    std::byte{1},  // type, version, kind, flags
                          std::byte{0},    std::byte{0},
                          std::byte{0},    std::byte{0x1c},  // size, big-endian
                          std::byte{0xbe}, std::byte{0x99},
                          std::byte{0x1a}, std::byte{0x14},  //
                          std::byte{0},    std::byte{0},
                          std::byte{0x01}, std::byte{0xa4},  // mode 0644
                          std::byte{0},    std::byte{2},
                          std::byte{'a'},  std::byte{'b'}};  // path
  CHECK(frame == expected);
}

TEST_CASE("truncated frames are refused") {
  check_prefixes_refused(encode(file_header("some/file.bin")),
                         [](auto bytes) { return decode_header(bytes); });
  StreamTrailer trailer;
  trailer.bytes = 99;
  trailer.hash = Hash128{1, 2};
  check_prefixes_refused(encode(trailer), [](auto bytes) { return decode_trailer(bytes); });
  check_prefixes_refused(encode(StreamVerdict{}), [](auto bytes) { return decode_verdict(bytes); });
}

TEST_CASE("bytes after the last field are refused") {
  Bytes header = encode(file_header("f"));
  header.push_back(std::byte{0});
  CHECK(decode_header(header).error() == FrameError::bad_length);
  StreamTrailer trailer;
  Bytes trailer_frame = encode(trailer);
  trailer_frame.push_back(std::byte{0});
  CHECK(decode_trailer(trailer_frame).error() == FrameError::bad_length);
  Bytes verdict = encode(StreamVerdict{});
  verdict.push_back(std::byte{0});
  CHECK(decode_verdict(verdict).error() == FrameError::bad_length);
}

TEST_CASE("malformed header fields are refused, each with its reason") {
  const Bytes good = encode(file_header("ab"));
  auto with = [&](std::size_t at, std::uint8_t value) {
    Bytes frame = good;
    frame[at] = std::byte{value};
    return decode_header(frame);
  };
  CHECK(with(0, 0).error() == FrameError::bad_type);
  CHECK(with(0, 9).error() == FrameError::bad_type);
  CHECK(with(0, 2).error() == FrameError::bad_type);  // a data frame is no header
  CHECK(with(1, 2).error() == FrameError::bad_version);
  CHECK(with(2, 5).error() == FrameError::bad_kind);
  CHECK(with(2, 4).error() == FrameError::bad_length);  // a sync header has a block size
  CHECK(with(2, 3).error() == FrameError::bad_length);  // a reverse request is longer
  CHECK(with(3, 0x03).error() == FrameError::bad_flags);
  CHECK(with(3, 0).error() == FrameError::bad_flags);     // a file without its size
  CHECK(with(14, 0x10).error() == FrameError::bad_mode);  // mode 010644
  CHECK(with(17, 3).error() == FrameError::bad_length);   // the path runs past the end
  CHECK(with(17, 1).error() == FrameError::bad_length);   // a byte left over
  CHECK(with(2, 0).error() == FrameError::bad_path);      // a pattern has no path
  CHECK(with(2, 2).error() == FrameError::bad_path);      // nor does stdin

  // An unknown size travels as 0.
  StreamHeader stdin_header;
  stdin_header.kind = ContentKind::stdin_data;
  Bytes frame = encode(stdin_header);
  frame[11] = std::byte{1};
  CHECK(decode_header(frame).error() == FrameError::bad_flags);
  CHECK(frame_type(Bytes{}).error() == FrameError::empty);
}

TEST_CASE("the encoder refuses what the decoder would refuse, and short buffers") {
  Bytes out(1 << 13);
  CHECK(encode_header(out, file_header("")).error() == FrameError::bad_path);
  CHECK(encode_header(out, file_header(std::string(kMaxPathLength + 1, 'x'))).error() ==
        FrameError::bad_path);
  StreamHeader bad_mode = file_header("f");
  bad_mode.mode = 010000;
  CHECK(encode_header(out, bad_mode).error() == FrameError::bad_mode);
  StreamHeader unsized = file_header("f");
  unsized.size.reset();
  CHECK(encode_header(out, unsized).error() == FrameError::bad_flags);
  StreamHeader pattern_with_path;
  pattern_with_path.path = "x";
  CHECK(encode_header(out, pattern_with_path).error() == FrameError::bad_path);
  const StreamHeader header = file_header("name");
  Bytes small(encoded_size(header) - 1);
  CHECK(encode_header(small, header).error() == FrameError::no_space);
  Bytes tiny(kTrailerSize - 1);
  CHECK(encode_trailer(tiny, StreamTrailer{}).error() == FrameError::no_space);
  CHECK(encode_verdict(tiny, StreamVerdict{}).error() == FrameError::no_space);
}

TEST_CASE("trailers carry the count and the hash in canonical order") {
  StreamTrailer trailer;
  trailer.bytes = 5;
  trailer.hash = Hash128{0x1111111111111111ULL, 0x2222222222222222ULL};
  const Bytes frame = encode(trailer);
  CHECK(frame[0] == std::byte{3});
  CHECK(frame[1] == std::byte{1});
  CHECK(frame[9] == std::byte{5});
  CHECK(frame[10] == std::byte{0x22});  // high half first, as xxhsum prints it
  CHECK(frame[18] == std::byte{0x11});
  CHECK(decode_trailer(frame) == trailer);

  StreamTrailer pattern;  // no hash
  pattern.bytes = 1ULL << 40;
  CHECK(decode_trailer(encode(pattern)) == pattern);
  Bytes bad = encode(pattern);
  bad[20] = std::byte{1};  // a hash behind a flag that says there is none
  CHECK(decode_trailer(bad).error() == FrameError::bad_flags);
  bad = encode(pattern);
  bad[1] = std::byte{2};
  CHECK(decode_trailer(bad).error() == FrameError::bad_flags);
  CHECK(decode_trailer(encode(StreamVerdict{})).error() == FrameError::bad_type);
}

TEST_CASE("verdicts survive a round trip; unknown codes are refused") {
  for (std::uint8_t code = 0; code <= static_cast<std::uint8_t>(Verdict::refused); ++code) {
    StreamVerdict verdict;
    verdict.result = static_cast<Verdict>(code);
    verdict.bytes = 1000 + code;
    verdict.hash = Hash128{code, ~std::uint64_t{code}};
    CHECK(decode_verdict(encode(verdict)) == verdict);
    CHECK_FALSE(to_string(verdict.result).empty());
  }
  Bytes bad = encode(StreamVerdict{});
  bad[1] = std::byte{8};
  CHECK(decode_verdict(bad).error() == FrameError::bad_verdict);
}

TEST_CASE("data frames: the content follows the type byte") {
  const Bytes frame = {std::byte{2}, std::byte{'x'}, std::byte{'y'}};
  REQUIRE(frame_type(frame) == FrameType::data);
  CHECK(data_content(frame).size() == 2);
  CHECK(data_content(frame)[0] == std::byte{'x'});
}

TEST_CASE("every byte of a hostile header decodes or fails cleanly") {
  // One byte at a time through all 256 values: the decoder answers, never crashes, and
  // what it accepts re-encodes to the same bytes.
  const Bytes good = encode(file_header("dir/f"));
  for (std::size_t at = 0; at < good.size(); ++at) {
    for (int value = 0; value < 256; ++value) {
      Bytes frame = good;
      frame[at] = static_cast<std::byte>(value);
      const auto decoded = decode_header(frame);
      if (decoded) CHECK(encode(*decoded) == frame);
    }
  }
}

TEST_CASE("paths from the network: only plain relative names pass") {
  for (const char* ok : {"a", "a/b/c.txt", ".hidden", "..dots", "a/...", "x y/ü", "a\\b"}) {
    CAPTURE(ok);
    CHECK_FALSE(check_relative_path(ok).has_value());
  }
  CHECK(check_relative_path("") == PathError::empty);
  CHECK(check_relative_path("/etc/passwd") == PathError::absolute);
  CHECK(check_relative_path("/") == PathError::absolute);
  CHECK(check_relative_path("a//b") == PathError::empty_component);
  CHECK(check_relative_path("a/") == PathError::empty_component);
  CHECK(check_relative_path("..") == PathError::dot_component);
  CHECK(check_relative_path("../x") == PathError::dot_component);
  CHECK(check_relative_path("a/../../x") == PathError::dot_component);
  CHECK(check_relative_path("a/..") == PathError::dot_component);
  CHECK(check_relative_path("./a") == PathError::dot_component);
  CHECK(check_relative_path("a/./b") == PathError::dot_component);
  CHECK(check_relative_path(std::string_view("a\0b", 3)) == PathError::nul_byte);
  CHECK(check_relative_path(std::string(kMaxNameLength, 'n')) == std::nullopt);
  CHECK(check_relative_path(std::string(kMaxNameLength + 1, 'n')) == PathError::too_long);
  CHECK(check_relative_path(std::string(kMaxPathLength + 1, 'n')) == PathError::too_long);
  std::string deep;
  while (deep.size() + 2 <= kMaxPathLength) deep += "d/";
  deep += "f";
  CHECK_FALSE(check_relative_path(deep).has_value());
}

namespace {

StreamHeader reverse_header(std::optional<std::uint64_t> size) {
  StreamHeader header;
  header.kind = ContentKind::reverse;
  header.size = size;
  ReverseRequest request;
  request.duration_ms = size ? 0 : 10'000;
  request.message_size = 128U << 10;
  header.reverse = request;
  return header;
}

}  // namespace

TEST_CASE("reverse requests survive a round trip with every controller") {
  StreamHeader fixed = reverse_header(std::nullopt);
  fixed.reverse->congestion = dwcp::transport::CongestionAlgorithm::fixed;
  fixed.reverse->rate_bits = 2'500'000'000ULL;
  fixed.reverse->message_size = kMaxRequestMessage;
  fixed.reverse->duration_ms = kMaxRequestMillis;
  StreamHeader cubic = reverse_header(64 << 20);
  cubic.reverse->congestion = dwcp::transport::CongestionAlgorithm::cubic;
  cubic.reverse->message_size = 1;
  for (const StreamHeader& header :
       {reverse_header(1), reverse_header(std::nullopt), fixed, cubic}) {
    const Bytes frame = encode(header);
    CHECK(frame.size() == encoded_size(header));
    const auto decoded = decode_header(frame);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == header);
    check_prefixes_refused(frame, [](auto bytes) { return decode_header(bytes); });
    Bytes longer = frame;
    longer.push_back(std::byte{0});
    CHECK(decode_header(longer).error() == FrameError::bad_length);
  }
}

TEST_CASE("the reverse request's wire layout follows the empty path") {
  StreamHeader header = reverse_header(std::nullopt);
  header.reverse->duration_ms = 0x01020304;
  header.reverse->message_size = 0x00010000;
  header.reverse->congestion = dwcp::transport::CongestionAlgorithm::fixed;
  header.reverse->rate_bits = 0x0102030405060708ULL;
  const Bytes frame = encode(header);
  REQUIRE(frame.size() == 1 + 17 + 17);
  CHECK(frame[2] == std::byte{3});   // kind reverse
  CHECK(frame[3] == std::byte{0});   // no size: timed
  CHECK(frame[18] == std::byte{1});  // duration, big-endian
  CHECK(frame[21] == std::byte{4});
  CHECK(frame[23] == std::byte{1});  // message size 65536
  CHECK(frame[26] == std::byte{2});  // fixed
  CHECK(frame[27] == std::byte{1});  // rate
  CHECK(frame[34] == std::byte{8});
}

TEST_CASE("reverse requests out of range are refused, encoded or decoded") {
  Bytes out(256);
  auto refused = [&](const StreamHeader& header) {
    CHECK(encode_header(out, header).error() == FrameError::bad_request);
  };
  StreamHeader both = reverse_header(5);  // a byte count and a time bound
  both.reverse->duration_ms = 1;
  refused(both);
  StreamHeader neither = reverse_header(std::nullopt);
  neither.reverse->duration_ms = 0;
  refused(neither);
  StreamHeader too_long = reverse_header(std::nullopt);
  too_long.reverse->duration_ms = kMaxRequestMillis + 1;
  refused(too_long);
  StreamHeader empty_messages = reverse_header(5);
  empty_messages.reverse->message_size = 0;
  refused(empty_messages);
  StreamHeader huge_messages = reverse_header(5);
  huge_messages.reverse->message_size = kMaxRequestMessage + 1;
  refused(huge_messages);
  StreamHeader fixed_without_rate = reverse_header(5);
  fixed_without_rate.reverse->congestion = dwcp::transport::CongestionAlgorithm::fixed;
  refused(fixed_without_rate);
  fixed_without_rate.reverse->rate_bits = kMinRequestRate - 1;
  refused(fixed_without_rate);
  StreamHeader rate_without_fixed = reverse_header(5);
  rate_without_fixed.reverse->rate_bits = 1'000'000;
  refused(rate_without_fixed);
  StreamHeader without_request = reverse_header(5);
  without_request.reverse.reset();
  refused(without_request);
  StreamHeader pattern_with_request = reverse_header(5);
  pattern_with_request.kind = ContentKind::pattern;
  refused(pattern_with_request);
  StreamHeader with_path = reverse_header(5);
  with_path.path = "x";
  CHECK(encode_header(out, with_path).error() == FrameError::bad_path);
  StreamHeader with_mode = reverse_header(5);
  with_mode.mode = 0644;
  CHECK(encode_header(out, with_mode).error() == FrameError::bad_mode);

  // The same fields from the network.
  const Bytes good = encode(reverse_header(std::nullopt));
  auto with = [&](std::size_t at, std::uint8_t value) {
    Bytes frame = good;
    frame[at] = std::byte{value};
    return decode_header(frame);
  };
  CHECK(with(26, 3).error() == FrameError::bad_request);     // no such controller
  CHECK(with(26, 2).error() == FrameError::bad_request);     // fixed, rate 0
  CHECK(with(34, 1).error() == FrameError::bad_request);     // a rate for bbr
  CHECK(with(22, 0x20).error() == FrameError::bad_request);  // messages of 512 MiB
  CHECK(with(18, 0xff).error() == FrameError::bad_request);  // longer than a day
  CHECK(with(2, 0).error() == FrameError::bad_length);       // a pattern header is shorter
}

TEST_CASE("every byte of a hostile reverse request decodes or fails cleanly") {
  StreamHeader fixed = reverse_header(std::nullopt);
  fixed.reverse->congestion = dwcp::transport::CongestionAlgorithm::fixed;
  fixed.reverse->rate_bits = 1'000'000;
  const Bytes good = encode(fixed);
  for (std::size_t at = 0; at < good.size(); ++at) {
    for (int value = 0; value < 256; ++value) {
      Bytes frame = good;
      frame[at] = static_cast<std::byte>(value);
      const auto decoded = decode_header(frame);
      if (decoded) CHECK(encode(*decoded) == frame);
    }
  }
}

TEST_CASE("a stop frame is its type byte alone") {
  Bytes frame(kStopSize);
  REQUIRE(encode_stop(frame).value_or(0) == kStopSize);
  CHECK(frame == Bytes{std::byte{5}});
  CHECK(frame_type(frame) == FrameType::stop);
  CHECK(decode_stop(frame).has_value());
  CHECK(decode_stop(Bytes{std::byte{5}, std::byte{0}}).error() == FrameError::bad_length);
  CHECK(decode_stop(Bytes{}).error() == FrameError::empty);
  CHECK(decode_stop(Bytes{std::byte{4}}).error() == FrameError::bad_type);
  CHECK(frame_type(Bytes{std::byte{9}}).error() == FrameError::bad_type);
  Bytes none;
  CHECK(encode_stop(none).error() == FrameError::no_space);
}

namespace {

StreamHeader sync_header(std::string name = "disk.img") {
  StreamHeader header;
  header.kind = ContentKind::sync;
  header.size = 256ULL << 20;
  header.mode = 0640;
  header.path = std::move(name);
  header.block_size = 4096;
  return header;
}

Bytes encode(const SyncManifest& manifest) {
  Bytes out(manifest_size(manifest.hashes.size()));
  const auto written = encode_manifest(out, manifest);
  REQUIRE(written.has_value());
  CHECK(*written == out.size());
  return out;
}

Bytes encode(const SyncRoundEnd& end) {
  Bytes out(kRoundEndSize);
  REQUIRE(encode_round_end(out, end).value_or(0) == kRoundEndSize);
  return out;
}

}  // namespace

TEST_CASE("sync headers carry the block size after the name") {
  StreamHeader empty_file = sync_header("e");
  empty_file.size = 0;
  empty_file.block_size = 1;
  StreamHeader largest = sync_header(std::string(kMaxNameLength, 'n'));
  largest.size = kMaxSyncLength;
  largest.block_size = kMaxSyncBlock;
  for (const StreamHeader& header : {sync_header(), empty_file, largest}) {
    const Bytes frame = encode(header);
    CHECK(frame.size() == encoded_size(header));
    const auto decoded = decode_header(frame);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == header);
    check_prefixes_refused(frame, [](auto bytes) { return decode_header(bytes); });
  }
  const Bytes frame = encode(sync_header("ab"));
  REQUIRE(frame.size() == 1 + 17 + 2 + 4);
  CHECK(frame[2] == std::byte{4});  // kind sync
  CHECK(frame[3] == std::byte{1});  // size known
  CHECK(frame[20] == std::byte{0});
  CHECK(frame[22] == std::byte{0x10});  // 4096, big-endian
  CHECK(frame[23] == std::byte{0});
}

TEST_CASE("sync headers out of range are refused, encoded or decoded") {
  Bytes out(8192);
  auto refused = [&](const StreamHeader& header, FrameError error) {
    CHECK(encode_header(out, header).error() == error);
  };
  StreamHeader no_block = sync_header();
  no_block.block_size = 0;
  refused(no_block, FrameError::bad_sync);
  StreamHeader huge_block = sync_header();
  huge_block.block_size = kMaxSyncBlock + 1;
  refused(huge_block, FrameError::bad_sync);
  StreamHeader huge_file = sync_header();
  huge_file.size = kMaxSyncLength + 1;
  refused(huge_file, FrameError::bad_sync);
  StreamHeader unsized = sync_header();
  unsized.size.reset();
  refused(unsized, FrameError::bad_flags);
  refused(sync_header(""), FrameError::bad_path);
  StreamHeader file_with_block = file_header("f");
  file_with_block.block_size = 4096;
  refused(file_with_block, FrameError::bad_sync);

  const Bytes good = encode(sync_header("ab"));
  auto with = [&](std::size_t at, std::uint8_t value) {
    Bytes frame = good;
    frame[at] = std::byte{value};
    return decode_header(frame);
  };
  CHECK(with(20, 0x10).error() == FrameError::bad_sync);  // blocks of 1 GiB
  CHECK(with(4, 0x10).error() == FrameError::bad_sync);   // a file past 16 TiB
  CHECK(with(3, 0).error() == FrameError::bad_flags);     // no length
  CHECK(with(2, 1).error() == FrameError::bad_length);    // a file header is shorter
}

TEST_CASE("every byte of a hostile sync header decodes or fails cleanly") {
  const Bytes good = encode(sync_header("f"));
  for (std::size_t at = 0; at < good.size(); ++at) {
    for (int value = 0; value < 256; ++value) {
      Bytes frame = good;
      frame[at] = static_cast<std::byte>(value);
      const auto decoded = decode_header(frame);
      if (decoded) CHECK(encode(*decoded) == frame);
    }
  }
}

TEST_CASE("manifests survive a round trip; their fields are checked") {
  SyncManifest empty;
  SyncManifest part;
  part.last = false;
  part.length = 10'000'000;
  part.first_block = 8192;
  part.hashes = {1, 0xfedcba9876543210ULL, 0};
  SyncManifest full;
  full.length = kMaxSyncLength;
  full.hashes.assign(kMaxManifestHashes, 0x5555);
  for (const SyncManifest& manifest : {empty, part, full}) {
    const Bytes frame = encode(manifest);
    CHECK(frame_type(frame) == FrameType::manifest);
    CHECK(decode_manifest(frame) == manifest);
  }
  const Bytes frame = encode(part);
  check_prefixes_refused(frame, [](auto bytes) { return decode_manifest(bytes); });
  CHECK(frame[1] == std::byte{0});   // not the last
  CHECK(frame[15] == std::byte{0});  // first block 8192, big-endian
  CHECK(frame[16] == std::byte{0x20});
  CHECK(frame[21] == std::byte{3});  // three hashes
  CHECK(frame[22 + 8] == std::byte{0xfe});
  Bytes longer = frame;
  longer.push_back(std::byte{0});
  CHECK(decode_manifest(longer).error() == FrameError::bad_length);
  Bytes bad = frame;
  bad[1] = std::byte{2};
  CHECK(decode_manifest(bad).error() == FrameError::bad_flags);
  bad = frame;
  bad[18] = std::byte{0x01};  // 65539 hashes
  CHECK(decode_manifest(bad).error() == FrameError::bad_sync);
  bad = frame;
  bad[2] = std::byte{0x10};  // a replica past 16 TiB
  CHECK(decode_manifest(bad).error() == FrameError::bad_sync);
  CHECK(decode_manifest(encode(SyncRoundEnd{})).error() == FrameError::bad_type);

  Bytes out(manifest_size(kMaxManifestHashes + 1));
  SyncManifest too_many;
  too_many.hashes.assign(kMaxManifestHashes + 1, 0);
  CHECK(encode_manifest(out, too_many).error() == FrameError::bad_sync);
  Bytes small(manifest_size(2));
  CHECK(encode_manifest(small, part).error() == FrameError::no_space);
}

TEST_CASE("round ends survive a round trip; their fields are checked") {
  SyncRoundEnd end;
  end.round = 7;
  end.length = (1ULL << 40) + 3;
  end.blocks = 12;
  end.hash = Hash128{0x1111111111111111ULL, 0x2222222222222222ULL};
  const Bytes frame = encode(end);
  CHECK(frame_type(frame) == FrameType::round_end);
  CHECK(decode_round_end(frame) == end);
  CHECK(frame[8] == std::byte{7});
  CHECK(frame[25] == std::byte{0x22});  // high half first
  check_prefixes_refused(frame, [](auto bytes) { return decode_round_end(bytes); });
  Bytes longer = frame;
  longer.push_back(std::byte{0});
  CHECK(decode_round_end(longer).error() == FrameError::bad_length);
  Bytes bad = frame;
  bad[8] = std::byte{0};  // round 0
  CHECK(decode_round_end(bad).error() == FrameError::bad_sync);
  bad = frame;
  bad[10] = std::byte{0x10};  // past 16 TiB
  CHECK(decode_round_end(bad).error() == FrameError::bad_sync);
  Bytes out(kRoundEndSize);
  SyncRoundEnd zero;
  zero.round = 0;
  CHECK(encode_round_end(out, zero).error() == FrameError::bad_sync);
  Bytes small(kRoundEndSize - 1);
  CHECK(encode_round_end(small, end).error() == FrameError::no_space);
}

TEST_CASE("a keepalive frame is its type byte alone") {
  Bytes frame(kKeepaliveSize);
  REQUIRE(encode_keepalive(frame).value_or(0) == kKeepaliveSize);
  CHECK(frame == Bytes{std::byte{8}});
  CHECK(frame_type(frame) == FrameType::keepalive);
  CHECK(decode_keepalive(frame).has_value());
  CHECK(decode_keepalive(Bytes{std::byte{8}, std::byte{0}}).error() == FrameError::bad_length);
  CHECK(decode_keepalive(Bytes{std::byte{5}}).error() == FrameError::bad_type);
  Bytes none;
  CHECK(encode_keepalive(none).error() == FrameError::no_space);
}
