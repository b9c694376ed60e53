// The framing dwcp-send and dwcp-recv put on every stream (docs/tools.md, "Stream framing"):
// each message starts with a one-byte frame type. A stream carries one or more units, each
//
//   header  (what follows: the test pattern, a file with its relative path, or stdin)
//   data*   (the content, in messages of any size)
//   trailer (the content's byte count and, for files and stdin, its XXH3-128)
//
// and the receiver answers every unit, on the same stream and in the same order, with a
// verdict (verified, or what went wrong).
//
// Reverse (dwcp-send -R): the client's stream carries one header of kind `reverse`, which
// asks the server for a unit of the test pattern on the same stream (a byte count, or a
// time bound) and says how to send it (message size, congestion controller, rate). The
// server answers with that unit, or with a verdict refusing the request; the client
// answers the unit with its verdict. A `stop` frame from the client ends a timed unit
// early: the server sends the trailer next.
//
// Sync (dwcp-send --sync): the client's stream carries one header of kind `sync` naming a
// file and a block size. The server answers with a manifest of the replica it holds (its
// length and the XXH3-64 of every block); then the client sends rounds: the blocks that
// differ as versioned blocks (Stream::send_block, key = block index), and a round end with
// the file's length and XXH3-128, which the server answers with a verdict on the whole
// replica; between rounds, keepalive frames may come. Integers are big-endian. Everything decoded
// here arrives from the network: the decoders check every length and field and never read past
// their span; paths are checked separately (check_relative_path) because a well-formed
// header may still name a path the receiver must refuse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "simd/checksum.h"
#include "transport/congestion_controller.h"

namespace dwcp::tools {

enum class FrameType : std::uint8_t {
  header = 1,
  data = 2,
  trailer = 3,
  verdict = 4,
  stop = 5,
  manifest = 6,   // sync, from the server: the replica's length and block hashes
  round_end = 7,  // sync, from the client: a round's file length and XXH3-128
  keepalive = 8,  // sync, from the client: nothing, but a packet that keeps an idle
                  // connection from timing out between rounds
};

enum class ContentKind : std::uint8_t {
  pattern = 0,
  file = 1,
  stdin_data = 2,
  reverse = 3,
  sync = 4,
};

std::string_view to_string(ContentKind kind) noexcept;

enum class FrameError : std::uint8_t {
  no_space,     // encode: the output span is too small
  empty,        // a message without even the type byte
  bad_type,     // an unknown frame type, or not the type the decoder takes
  bad_version,  // a header of a framing version this build does not speak
  bad_length,   // truncated, or bytes left over after the last field
  bad_kind,     // an unknown content kind
  bad_flags,    // flag bits this version does not define, or contradicting the fields
  bad_mode,     // file mode bits beyond 07777
  bad_path,     // a path where none belongs, none where one must be, or too long
  bad_verdict,  // an unknown verdict code
  bad_request,  // a reverse request's fields out of range, or on a header of another kind
  bad_sync,     // a sync field out of range: block size, length, count, round
};

std::string_view to_string(FrameError error) noexcept;

inline constexpr std::uint8_t kFramingVersion = 1;
// The longest relative path a header carries: Linux's PATH_MAX less the terminating NUL.
inline constexpr std::size_t kMaxPathLength = 4095;
// The longest path component: Linux's NAME_MAX.
inline constexpr std::size_t kMaxNameLength = 255;
// The type byte in front of every data message: a message of N content bytes is N + 1.
inline constexpr std::size_t kDataOverhead = 1;
// Limits of a reverse request: dwcp-send's own (-l at most 1M) and a day for -t.
inline constexpr std::uint32_t kMaxRequestMessage = std::uint32_t{1} << 20;
inline constexpr std::uint32_t kMaxRequestMillis = 24U * 3600U * 1000U;
inline constexpr std::uint64_t kMinRequestRate = 8;  // bit/s
// Limits of a sync: the block size (a block is one message's worth of stream space), the
// longest replica (16 TiB: a hostile length cannot make the server seek past it), and the
// hashes one manifest message carries (64 KiB of them).
inline constexpr std::uint32_t kMaxSyncBlock = std::uint32_t{1} << 20;
inline constexpr std::uint64_t kMaxSyncLength = std::uint64_t{1} << 44;
inline constexpr std::uint32_t kMaxManifestHashes = 8192;

// How the server is to send a reverse unit.
struct ReverseRequest {
  // Without a size in the header: the longest the server sends, 1 .. kMaxRequestMillis
  // (counted from the header's arrival). With a size: 0.
  std::uint32_t duration_ms = 0;
  std::uint32_t message_size = 64U << 10;  // content bytes per data message, 1 .. 1M
  transport::CongestionAlgorithm congestion = transport::CongestionAlgorithm::bbr;
  std::uint64_t rate_bits = 0;  // bit/s: at least kMinRequestRate with fixed, else 0

  friend bool operator==(const ReverseRequest&, const ReverseRequest&) = default;
};

struct StreamHeader {
  ContentKind kind = ContentKind::pattern;
  std::optional<std::uint64_t> size;  // content bytes, when known in advance (not for stdin)
  std::uint32_t mode = 0;             // permission bits (07777 at most); 0 for pattern/stdin
  std::string path;                   // relative, '/'-separated; files only, empty otherwise
  // Kind reverse only: `size` is then the pattern bytes asked for (none: timed).
  std::optional<ReverseRequest> reverse;
  // Kind sync only: bytes per block, 1 .. kMaxSyncBlock (the last block of a file may be
  // shorter); `path` is then the file's name and `size` its length when the sync began.
  std::uint32_t block_size = 0;

  friend bool operator==(const StreamHeader&, const StreamHeader&) = default;
};

struct StreamTrailer {
  std::uint64_t bytes = 0;            // content bytes the unit carried
  std::optional<simd::Hash128> hash;  // XXH3-128 of them; absent for the pattern

  friend bool operator==(const StreamTrailer&, const StreamTrailer&) = default;
};

enum class Verdict : std::uint8_t {
  verified = 0,
  hash_mismatch = 1,     // the content's XXH3-128 differs from the trailer's
  size_mismatch = 2,     // fewer or more bytes than the trailer or the header said
  pattern_mismatch = 3,  // test-pattern bytes that did not match
  rejected_path = 4,     // the path is absolute, has '..' or empty components, or leads
                         // through a symlink: nothing was written
  write_failed = 5,      // the receiver could not store the file (disk full, permissions)
  malformed = 6,         // a frame did not decode, or came out of order; the rest of the
                         // stream is ignored
  refused = 7,           // the receiver takes no more such units (--stdout takes one)
};

std::string_view to_string(Verdict verdict) noexcept;

// Sync: one message of the server's manifest. The replica's blocks are numbered from 0,
// `block size` bytes each (the header's), the last one perhaps shorter; a manifest lists
// the XXH3-64 of blocks first_block, first_block + 1, ... in order, over as many messages
// as it takes, the last one flagged. A replica that does not exist is an empty one.
struct SyncManifest {
  bool last = true;
  std::uint64_t length = 0;  // the replica's bytes, at most kMaxSyncLength
  std::uint64_t first_block = 0;
  std::vector<std::uint64_t> hashes;  // at most kMaxManifestHashes

  friend bool operator==(const SyncManifest&, const SyncManifest&) = default;
};

// Sync: the end of one round, after its blocks. The server truncates the replica to
// `length` and answers with a verdict on all of it (verified: its XXH3-128 is `hash`).
struct SyncRoundEnd {
  std::uint64_t round = 1;   // from 1
  std::uint64_t length = 0;  // the file's bytes, at most kMaxSyncLength
  std::uint64_t blocks = 0;  // versioned blocks the round sent
  simd::Hash128 hash;        // XXH3-128 of the whole file as the round read it

  friend bool operator==(const SyncRoundEnd&, const SyncRoundEnd&) = default;
};

struct StreamVerdict {
  Verdict result = Verdict::verified;
  std::uint64_t bytes = 0;  // content bytes the receiver got
  simd::Hash128 hash;       // their XXH3-128 as the receiver computed it (0 for the pattern)

  friend bool operator==(const StreamVerdict&, const StreamVerdict&) = default;
};

// The type of a received message: its first byte. Error: empty, or an unknown type.
std::expected<FrameType, FrameError> frame_type(std::span<const std::byte> message) noexcept;

// The content of a data message: everything after the type byte. Call only on a message
// frame_type() said is data.
inline std::span<const std::byte> data_content(std::span<const std::byte> message) noexcept {
  return message.subspan(kDataOverhead);
}

// Bytes encode_header() writes for `header`.
std::size_t encoded_size(const StreamHeader& header) noexcept;
inline constexpr std::size_t kTrailerSize = 1 + 1 + 8 + 16;
inline constexpr std::size_t kVerdictSize = 1 + 1 + 8 + 16;
// Verdicts a receiver holds for a sender that does not read them before it drops the
// stream: memory stays bounded against a peer that only sends.
inline constexpr std::size_t kMaxUnsentVerdicts = 1024;
inline constexpr std::size_t kStopSize = 1;
inline constexpr std::size_t kRoundEndSize = 1 + 8 + 8 + 8 + 16;
inline constexpr std::size_t kKeepaliveSize = 1;
// Bytes encode_manifest() writes for `hashes` hashes.
inline constexpr std::size_t manifest_size(std::size_t hashes) noexcept {
  return 1 + 1 + 8 + 8 + 4 + 8 * hashes;
}

// Encoders: bytes written, or an error (no_space, or a header the decoder would refuse:
// bad_path, bad_mode, bad_flags) with nothing promised about `out`.
std::expected<std::size_t, FrameError> encode_header(std::span<std::byte> out,
                                                     const StreamHeader& header) noexcept;
std::expected<std::size_t, FrameError> encode_trailer(std::span<std::byte> out,
                                                      const StreamTrailer& trailer) noexcept;
std::expected<std::size_t, FrameError> encode_verdict(std::span<std::byte> out,
                                                      const StreamVerdict& verdict) noexcept;
std::expected<std::size_t, FrameError> encode_stop(std::span<std::byte> out) noexcept;
std::expected<std::size_t, FrameError> encode_manifest(std::span<std::byte> out,
                                                       const SyncManifest& manifest) noexcept;
std::expected<std::size_t, FrameError> encode_round_end(std::span<std::byte> out,
                                                        const SyncRoundEnd& end) noexcept;
std::expected<std::size_t, FrameError> encode_keepalive(std::span<std::byte> out) noexcept;

// Decoders take one whole message, type byte included, and refuse any other length.
std::expected<StreamHeader, FrameError> decode_header(std::span<const std::byte> message);
std::expected<StreamTrailer, FrameError> decode_trailer(
    std::span<const std::byte> message) noexcept;
std::expected<StreamVerdict, FrameError> decode_verdict(
    std::span<const std::byte> message) noexcept;
std::expected<void, FrameError> decode_stop(std::span<const std::byte> message) noexcept;
std::expected<SyncManifest, FrameError> decode_manifest(std::span<const std::byte> message);
std::expected<SyncRoundEnd, FrameError> decode_round_end(
    std::span<const std::byte> message) noexcept;
std::expected<void, FrameError> decode_keepalive(std::span<const std::byte> message) noexcept;

enum class PathError : std::uint8_t {
  empty,            // ""
  absolute,         // starts with '/'
  empty_component,  // "a//b", or a trailing '/'
  dot_component,    // "." or ".." anywhere
  nul_byte,         // a NUL, which no file name can hold
  too_long,         // over kMaxPathLength, or a component over kMaxNameLength
};

std::string_view to_string(PathError error) noexcept;

// Whether `path`, from the network, may be created under an output directory: a relative
// path of plain names separated by single '/'. What it cannot check, symlinks already in
// the output directory, is the writer's job (tools/common/file_sink.h).
std::optional<PathError> check_relative_path(std::string_view path) noexcept;

}  // namespace dwcp::tools
