#include "tools/common/stream_header.h"

#include <cstring>

namespace dwcp::tools {
namespace {

// Header layout after the type byte: version, kind, flags, size (8), mode (4), path length
// (2), path.
constexpr std::size_t kHeaderFixed = 1 + 1 + 1 + 8 + 4 + 2;
// After the (empty) path of a reverse header: duration (4), message size (4), congestion
// (1: 0 bbr, 1 cubic, 2 fixed), rate (8).
constexpr std::size_t kRequestFields = 4 + 4 + 1 + 8;
// After the path of a sync header: block size (4).
constexpr std::size_t kSyncFields = 4;
constexpr std::uint8_t kManifestLast = 0x01;
constexpr std::uint8_t kHeaderSizeKnown = 0x01;
constexpr std::uint8_t kTrailerHasHash = 0x01;
constexpr std::uint32_t kMaxMode = 07777;
constexpr std::uint8_t kLastVerdict = static_cast<std::uint8_t>(Verdict::refused);

void put(std::byte*& at, std::uint64_t value, std::size_t bytes) noexcept {
  for (std::size_t i = bytes; i-- > 0;) {
    at[i] = static_cast<std::byte>(value & 0xff);
    value >>= 8;
  }
  at += bytes;
}

std::uint64_t get(const std::byte*& at, std::size_t bytes) noexcept {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < bytes; ++i)
    value = (value << 8) | std::to_integer<std::uint64_t>(at[i]);
  at += bytes;
  return value;
}

void put_hash(std::byte*& at, const simd::Hash128& hash) noexcept {
  // xxHash's canonical order, as to_hex() prints it: high half first.
  put(at, hash.high, 8);
  put(at, hash.low, 8);
}

simd::Hash128 get_hash(const std::byte*& at) noexcept {
  simd::Hash128 hash;
  hash.high = get(at, 8);
  hash.low = get(at, 8);
  return hash;
}

std::uint8_t type_byte(FrameType type) noexcept {
  return static_cast<std::uint8_t>(type);
}

// The first byte must say `want`.
std::expected<void, FrameError> expect_type(std::span<const std::byte> message, FrameType want) {
  auto type = frame_type(message);
  if (!type) return std::unexpected(type.error());
  if (*type != want) return std::unexpected(FrameError::bad_type);
  return {};
}

std::expected<void, FrameError> check_request(const ReverseRequest& request, bool sized) noexcept {
  // A byte count or a time bound: exactly one.
  if (sized != (request.duration_ms == 0)) return std::unexpected(FrameError::bad_request);
  if (request.duration_ms > kMaxRequestMillis) return std::unexpected(FrameError::bad_request);
  if (request.message_size == 0 || request.message_size > kMaxRequestMessage) {
    return std::unexpected(FrameError::bad_request);
  }
  const bool fixed = request.congestion == transport::CongestionAlgorithm::fixed;
  if (request.congestion != transport::CongestionAlgorithm::bbr &&
      request.congestion != transport::CongestionAlgorithm::cubic && !fixed) {
    return std::unexpected(FrameError::bad_request);
  }
  if (fixed ? request.rate_bits < kMinRequestRate : request.rate_bits != 0) {
    return std::unexpected(FrameError::bad_request);
  }
  return {};
}

std::size_t kind_fields(ContentKind kind) noexcept {
  if (kind == ContentKind::reverse) return kRequestFields;
  if (kind == ContentKind::sync) return kSyncFields;
  return 0;
}

std::expected<void, FrameError> check_header_fields(const StreamHeader& header) noexcept {
  if (header.mode > kMaxMode) return std::unexpected(FrameError::bad_mode);
  if (header.path.size() > kMaxPathLength) return std::unexpected(FrameError::bad_path);
  if (header.kind == ContentKind::sync) {
    if (header.path.empty()) return std::unexpected(FrameError::bad_path);
    if (!header.size) return std::unexpected(FrameError::bad_flags);
    if (header.reverse) return std::unexpected(FrameError::bad_request);
    if (*header.size > kMaxSyncLength || header.block_size == 0 ||
        header.block_size > kMaxSyncBlock) {
      return std::unexpected(FrameError::bad_sync);
    }
    return {};
  }
  if (header.block_size != 0) return std::unexpected(FrameError::bad_sync);
  switch (header.kind) {
    case ContentKind::file:
      if (header.path.empty()) return std::unexpected(FrameError::bad_path);
      if (!header.size) return std::unexpected(FrameError::bad_flags);
      break;
    case ContentKind::stdin_data:
    case ContentKind::pattern:
      if (!header.path.empty()) return std::unexpected(FrameError::bad_path);
      break;
    case ContentKind::reverse:
      if (!header.path.empty()) return std::unexpected(FrameError::bad_path);
      if (header.mode != 0) return std::unexpected(FrameError::bad_mode);
      if (!header.reverse) return std::unexpected(FrameError::bad_request);
      return check_request(*header.reverse, header.size.has_value());
    default:
      return std::unexpected(FrameError::bad_kind);
  }
  if (header.reverse) return std::unexpected(FrameError::bad_request);
  return {};
}

}  // namespace

std::string_view to_string(ContentKind kind) noexcept {
  switch (kind) {
    case ContentKind::pattern:
      return "pattern";
    case ContentKind::file:
      return "file";
    case ContentKind::stdin_data:
      return "stdin";
    case ContentKind::reverse:
      return "reverse";
    case ContentKind::sync:
      return "sync";
  }
  return "unknown";
}

std::string_view to_string(FrameError error) noexcept {
  switch (error) {
    case FrameError::no_space:
      return "no space";
    case FrameError::empty:
      return "empty message";
    case FrameError::bad_type:
      return "unexpected frame type";
    case FrameError::bad_version:
      return "unknown framing version";
    case FrameError::bad_length:
      return "wrong length";
    case FrameError::bad_kind:
      return "unknown content kind";
    case FrameError::bad_flags:
      return "bad flags";
    case FrameError::bad_mode:
      return "bad file mode";
    case FrameError::bad_path:
      return "bad path field";
    case FrameError::bad_verdict:
      return "unknown verdict";
    case FrameError::bad_request:
      return "bad reverse request";
    case FrameError::bad_sync:
      return "bad sync field";
  }
  return "unknown error";
}

std::string_view to_string(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::verified:
      return "verified";
    case Verdict::hash_mismatch:
      return "XXH3-128 mismatch";
    case Verdict::size_mismatch:
      return "size mismatch";
    case Verdict::pattern_mismatch:
      return "pattern mismatch";
    case Verdict::rejected_path:
      return "path rejected";
    case Verdict::write_failed:
      return "cannot be written";
    case Verdict::malformed:
      return "malformed framing";
    case Verdict::refused:
      return "refused";
  }
  return "unknown verdict";
}

std::string_view to_string(PathError error) noexcept {
  switch (error) {
    case PathError::empty:
      return "empty path";
    case PathError::absolute:
      return "absolute path";
    case PathError::empty_component:
      return "empty path component";
    case PathError::dot_component:
      return "'.' or '..' component";
    case PathError::nul_byte:
      return "NUL byte in path";
    case PathError::too_long:
      return "path or name too long";
  }
  return "bad path";
}

std::expected<FrameType, FrameError> frame_type(std::span<const std::byte> message) noexcept {
  if (message.empty()) return std::unexpected(FrameError::empty);
  const auto type = std::to_integer<std::uint8_t>(message[0]);
  if (type < type_byte(FrameType::header) || type > type_byte(FrameType::keepalive)) {
    return std::unexpected(FrameError::bad_type);
  }
  return static_cast<FrameType>(type);
}

std::size_t encoded_size(const StreamHeader& header) noexcept {
  return 1 + kHeaderFixed + header.path.size() + kind_fields(header.kind);
}

std::expected<std::size_t, FrameError> encode_header(std::span<std::byte> out,
                                                     const StreamHeader& header) noexcept {
  if (auto fields = check_header_fields(header); !fields) return std::unexpected(fields.error());
  const std::size_t size = encoded_size(header);
  if (out.size() < size) return std::unexpected(FrameError::no_space);
  std::byte* at = out.data();
  put(at, type_byte(FrameType::header), 1);
  put(at, kFramingVersion, 1);
  put(at, static_cast<std::uint8_t>(header.kind), 1);
  put(at, header.size ? kHeaderSizeKnown : 0, 1);
  put(at, header.size.value_or(0), 8);
  put(at, header.mode, 4);
  put(at, header.path.size(), 2);
  if (!header.path.empty()) std::memcpy(at, header.path.data(), header.path.size());
  at += header.path.size();
  // check_header_fields() made sure a reverse header has its request.
  if (header.kind == ContentKind::reverse && header.reverse) {
    put(at, header.reverse->duration_ms, 4);
    put(at, header.reverse->message_size, 4);
    put(at, static_cast<std::uint8_t>(header.reverse->congestion), 1);
    put(at, header.reverse->rate_bits, 8);
  }
  if (header.kind == ContentKind::sync) put(at, header.block_size, 4);
  return size;
}

std::expected<StreamHeader, FrameError> decode_header(std::span<const std::byte> message) {
  if (auto type = expect_type(message, FrameType::header); !type) {
    return std::unexpected(type.error());
  }
  if (message.size() < 1 + kHeaderFixed) return std::unexpected(FrameError::bad_length);
  const std::byte* at = message.data() + 1;
  const auto version = get(at, 1);
  const auto kind = get(at, 1);
  const auto flags = get(at, 1);
  const auto size = get(at, 8);
  const auto mode = get(at, 4);
  const auto path_length = get(at, 2);
  if (version != kFramingVersion) return std::unexpected(FrameError::bad_version);
  if (kind > static_cast<std::uint8_t>(ContentKind::sync)) {
    return std::unexpected(FrameError::bad_kind);
  }
  if ((flags & ~std::uint64_t{kHeaderSizeKnown}) != 0)
    return std::unexpected(FrameError::bad_flags);
  // An unknown size travels as 0: anything else is a contradiction.
  if ((flags & kHeaderSizeKnown) == 0 && size != 0) return std::unexpected(FrameError::bad_flags);
  const bool reverse = kind == static_cast<std::uint8_t>(ContentKind::reverse);
  if (message.size() !=
      1 + kHeaderFixed + path_length + kind_fields(static_cast<ContentKind>(kind))) {
    return std::unexpected(FrameError::bad_length);
  }
  StreamHeader header;
  header.kind = static_cast<ContentKind>(kind);
  if ((flags & kHeaderSizeKnown) != 0) header.size = size;
  header.mode = static_cast<std::uint32_t>(mode);
  header.path.assign(reinterpret_cast<const char*>(at), path_length);
  at += path_length;
  if (reverse) {
    ReverseRequest request;
    request.duration_ms = static_cast<std::uint32_t>(get(at, 4));
    request.message_size = static_cast<std::uint32_t>(get(at, 4));
    const auto congestion = get(at, 1);
    request.rate_bits = get(at, 8);
    if (congestion > static_cast<std::uint8_t>(transport::CongestionAlgorithm::fixed)) {
      return std::unexpected(FrameError::bad_request);
    }
    request.congestion = static_cast<transport::CongestionAlgorithm>(congestion);
    header.reverse = request;
  }
  if (header.kind == ContentKind::sync) header.block_size = static_cast<std::uint32_t>(get(at, 4));
  if (auto fields = check_header_fields(header); !fields) return std::unexpected(fields.error());
  return header;
}

std::expected<std::size_t, FrameError> encode_trailer(std::span<std::byte> out,
                                                      const StreamTrailer& trailer) noexcept {
  if (out.size() < kTrailerSize) return std::unexpected(FrameError::no_space);
  std::byte* at = out.data();
  put(at, type_byte(FrameType::trailer), 1);
  put(at, trailer.hash ? kTrailerHasHash : 0, 1);
  put(at, trailer.bytes, 8);
  put_hash(at, trailer.hash.value_or(simd::Hash128{}));
  return kTrailerSize;
}

std::expected<StreamTrailer, FrameError> decode_trailer(
    std::span<const std::byte> message) noexcept {
  if (auto type = expect_type(message, FrameType::trailer); !type) {
    return std::unexpected(type.error());
  }
  if (message.size() != kTrailerSize) return std::unexpected(FrameError::bad_length);
  const std::byte* at = message.data() + 1;
  const auto flags = get(at, 1);
  StreamTrailer trailer;
  trailer.bytes = get(at, 8);
  const simd::Hash128 hash = get_hash(at);
  if ((flags & ~std::uint64_t{kTrailerHasHash}) != 0) return std::unexpected(FrameError::bad_flags);
  if ((flags & kTrailerHasHash) != 0) {
    trailer.hash = hash;
  } else if (hash != simd::Hash128{}) {
    return std::unexpected(FrameError::bad_flags);
  }
  return trailer;
}

std::expected<std::size_t, FrameError> encode_verdict(std::span<std::byte> out,
                                                      const StreamVerdict& verdict) noexcept {
  if (out.size() < kVerdictSize) return std::unexpected(FrameError::no_space);
  std::byte* at = out.data();
  put(at, type_byte(FrameType::verdict), 1);
  put(at, static_cast<std::uint8_t>(verdict.result), 1);
  put(at, verdict.bytes, 8);
  put_hash(at, verdict.hash);
  return kVerdictSize;
}

std::expected<StreamVerdict, FrameError> decode_verdict(
    std::span<const std::byte> message) noexcept {
  if (auto type = expect_type(message, FrameType::verdict); !type) {
    return std::unexpected(type.error());
  }
  if (message.size() != kVerdictSize) return std::unexpected(FrameError::bad_length);
  const std::byte* at = message.data() + 1;
  const auto result = get(at, 1);
  if (result > kLastVerdict) return std::unexpected(FrameError::bad_verdict);
  StreamVerdict verdict;
  verdict.result = static_cast<Verdict>(result);
  verdict.bytes = get(at, 8);
  verdict.hash = get_hash(at);
  return verdict;
}

std::expected<std::size_t, FrameError> encode_stop(std::span<std::byte> out) noexcept {
  if (out.size() < kStopSize) return std::unexpected(FrameError::no_space);
  out[0] = static_cast<std::byte>(type_byte(FrameType::stop));
  return kStopSize;
}

std::expected<void, FrameError> decode_stop(std::span<const std::byte> message) noexcept {
  if (auto type = expect_type(message, FrameType::stop); !type) return type;
  if (message.size() != kStopSize) return std::unexpected(FrameError::bad_length);
  return {};
}

std::expected<std::size_t, FrameError> encode_manifest(std::span<std::byte> out,
                                                       const SyncManifest& manifest) noexcept {
  if (manifest.hashes.size() > kMaxManifestHashes || manifest.length > kMaxSyncLength) {
    return std::unexpected(FrameError::bad_sync);
  }
  const std::size_t size = manifest_size(manifest.hashes.size());
  if (out.size() < size) return std::unexpected(FrameError::no_space);
  std::byte* at = out.data();
  put(at, type_byte(FrameType::manifest), 1);
  put(at, manifest.last ? kManifestLast : 0, 1);
  put(at, manifest.length, 8);
  put(at, manifest.first_block, 8);
  put(at, manifest.hashes.size(), 4);
  for (const std::uint64_t hash : manifest.hashes) put(at, hash, 8);
  return size;
}

std::expected<SyncManifest, FrameError> decode_manifest(std::span<const std::byte> message) {
  if (auto type = expect_type(message, FrameType::manifest); !type) {
    return std::unexpected(type.error());
  }
  if (message.size() < manifest_size(0)) return std::unexpected(FrameError::bad_length);
  const std::byte* at = message.data() + 1;
  const auto flags = get(at, 1);
  SyncManifest manifest;
  manifest.last = (flags & kManifestLast) != 0;
  manifest.length = get(at, 8);
  manifest.first_block = get(at, 8);
  const auto count = get(at, 4);
  if ((flags & ~std::uint64_t{kManifestLast}) != 0) return std::unexpected(FrameError::bad_flags);
  if (count > kMaxManifestHashes || manifest.length > kMaxSyncLength ||
      manifest.first_block > kMaxSyncLength) {
    return std::unexpected(FrameError::bad_sync);
  }
  if (message.size() != manifest_size(count)) return std::unexpected(FrameError::bad_length);
  manifest.hashes.resize(count);
  for (std::uint64_t& hash : manifest.hashes) hash = get(at, 8);
  return manifest;
}

std::expected<std::size_t, FrameError> encode_round_end(std::span<std::byte> out,
                                                        const SyncRoundEnd& end) noexcept {
  if (end.round == 0 || end.length > kMaxSyncLength) return std::unexpected(FrameError::bad_sync);
  if (out.size() < kRoundEndSize) return std::unexpected(FrameError::no_space);
  std::byte* at = out.data();
  put(at, type_byte(FrameType::round_end), 1);
  put(at, end.round, 8);
  put(at, end.length, 8);
  put(at, end.blocks, 8);
  put_hash(at, end.hash);
  return kRoundEndSize;
}

std::expected<SyncRoundEnd, FrameError> decode_round_end(
    std::span<const std::byte> message) noexcept {
  if (auto type = expect_type(message, FrameType::round_end); !type) {
    return std::unexpected(type.error());
  }
  if (message.size() != kRoundEndSize) return std::unexpected(FrameError::bad_length);
  const std::byte* at = message.data() + 1;
  SyncRoundEnd end;
  end.round = get(at, 8);
  end.length = get(at, 8);
  end.blocks = get(at, 8);
  end.hash = get_hash(at);
  if (end.round == 0 || end.length > kMaxSyncLength) return std::unexpected(FrameError::bad_sync);
  return end;
}

std::expected<std::size_t, FrameError> encode_keepalive(std::span<std::byte> out) noexcept {
  if (out.size() < kKeepaliveSize) return std::unexpected(FrameError::no_space);
  out[0] = static_cast<std::byte>(type_byte(FrameType::keepalive));
  return kKeepaliveSize;
}

std::expected<void, FrameError> decode_keepalive(std::span<const std::byte> message) noexcept {
  if (auto type = expect_type(message, FrameType::keepalive); !type) return type;
  if (message.size() != kKeepaliveSize) return std::unexpected(FrameError::bad_length);
  return {};
}

std::optional<PathError> check_relative_path(std::string_view path) noexcept {
  if (path.empty()) return PathError::empty;
  if (path.size() > kMaxPathLength) return PathError::too_long;
  if (path.find('\0') != std::string_view::npos) return PathError::nul_byte;
  if (path.front() == '/') return PathError::absolute;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    const std::string_view name = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (name.empty()) return PathError::empty_component;
    if (name == "." || name == "..") return PathError::dot_component;
    if (name.size() > kMaxNameLength) return PathError::too_long;
    if (slash == std::string_view::npos) return std::nullopt;
    start = slash + 1;
  }
}

}  // namespace dwcp::tools
