// The receiving end of a sync without a connection: the block scanner, the replica file
// (written in place, cut, verified) and SyncReceiver fed block by block and frame by frame,
// as a sender (or a hostile peer) would. The Stream is a default handle: manifests and
// verdicts go nowhere, so the rounds, the tally and the file are what is checked.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "simd/checksum.h"
#include "tools/common/block_scan.h"
#include "tools/common/stream_header.h"
#include "tools/common/stream_receiver.h"
#include "tools/common/sync_receiver.h"
#include "tools/common/sync_replica.h"

using namespace dwcp::tools;
using Bytes = std::vector<std::byte>;
namespace fs = std::filesystem;

namespace {

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "dwcp-sync-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
    fd_ = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(fd_ >= 0);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    ::close(fd_);
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }
  [[nodiscard]] int fd() const { return fd_; }

 private:
  fs::path path_;
  int fd_ = -1;
};

Bytes pattern_bytes(std::size_t size, unsigned seed) {
  Bytes out(size);
  std::uint64_t state = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (std::byte& b : out) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    b = static_cast<std::byte>(state);
  }
  return out;
}

void write_file(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

Bytes read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> chars((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  Bytes out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

std::span<const std::byte> block_of(const Bytes& file, std::uint64_t index, std::uint32_t size) {
  const std::size_t start = index * size;
  return std::span(file).subspan(start, std::min<std::size_t>(size, file.size() - start));
}

SyncRoundEnd round_end(std::uint64_t round, const Bytes& file, std::uint64_t blocks) {
  SyncRoundEnd end;
  end.round = round;
  end.length = file.size();
  end.blocks = blocks;
  end.hash = dwcp::simd::xxh3_128(file);
  return end;
}

Bytes encode(const SyncRoundEnd& end) {
  Bytes out(kRoundEndSize);
  REQUIRE(encode_round_end(out, end).has_value());
  return out;
}

StreamHeader sync_header(std::string name, std::uint32_t block_size, std::uint64_t size = 0) {
  StreamHeader header;
  header.kind = ContentKind::sync;
  header.path = std::move(name);
  header.size = size;
  header.mode = 0600;
  header.block_size = block_size;
  return header;
}

}  // namespace

TEST_CASE("the scanner hands out every block, the last one short, and hashes the whole") {
  ScratchDir dir;
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4096},
                                 std::size_t{(1 << 20) + 4097}, std::size_t{3 << 20}}) {
    CAPTURE(size);
    const Bytes content = pattern_bytes(size, 3);
    write_file(dir.path() / "f", content);
    const int fd = ::open((dir.path() / "f").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    BlockScanner scanner(fd, 4096);
    Bytes joined;
    std::uint64_t expected_index = 0;
    for (;;) {
      auto block = scanner.next();
      REQUIRE(block.has_value());
      if (!*block) break;
      CHECK((*block)->index == expected_index++);
      const bool last = joined.size() + 4096 >= size;
      CHECK((*block)->bytes.size() == (last ? size - joined.size() : 4096));
      joined.insert(joined.end(), (*block)->bytes.begin(), (*block)->bytes.end());
    }
    CHECK(joined == content);
    CHECK(scanner.length() == size);
    CHECK(scanner.hash() == dwcp::simd::xxh3_128(content));
    auto hashes = hash_blocks(fd, 4096);
    REQUIRE(hashes.has_value());
    CHECK(hashes->length == size);
    CHECK(hashes->hashes.size() == (size + 4095) / 4096);
    if (!hashes->hashes.empty()) {
      CHECK(hashes->hashes.back() ==
            dwcp::simd::xxh3_64(block_of(content, hashes->hashes.size() - 1, 4096)));
    }
    auto digest = digest_file(fd);
    REQUIRE(digest.has_value());
    CHECK(digest->hash == dwcp::simd::xxh3_128(content));
    ::close(fd);
  }
}

TEST_CASE("a replica takes blocks in place, is cut to the round's length, and verifies") {
  ScratchDir dir;
  const Bytes original = pattern_bytes(10000, 1);
  write_file(dir.path() / "r", original);
  auto replica = SyncReplica::open(dir.fd(), "r", 0644, 4096);
  REQUIRE(replica.has_value());
  auto manifest = replica->manifest();
  REQUIRE(manifest.has_value());
  REQUIRE(manifest->size() == 1);
  CHECK(manifest->front().last);
  CHECK(manifest->front().length == 10000);
  REQUIRE(manifest->front().hashes.size() == 3);
  CHECK(manifest->front().hashes[2] == dwcp::simd::xxh3_64(block_of(original, 2, 4096)));

  // The file shrinks to 5000 bytes and its second block changes.
  Bytes next(original.begin(), original.begin() + 5000);
  next[4500] ^= std::byte{0xff};
  REQUIRE(replica->write_block(1, block_of(next, 1, 4096)).has_value());
  const StreamVerdict verdict = replica->finish_round(round_end(1, next, 1));
  CHECK(verdict.result == Verdict::verified);
  CHECK(verdict.bytes == 5000);
  CHECK(read_file(dir.path() / "r") == next);

  // It grows past its old end; a round whose hash is wrong says so.
  Bytes grown = next;
  const Bytes tail = pattern_bytes(9000, 2);
  grown.resize(4096);
  grown.insert(grown.end(), tail.begin(), tail.end());
  for (std::uint64_t key = 1; key < 4; ++key) {
    REQUIRE(replica->write_block(key, block_of(grown, key, 4096)).has_value());
  }
  CHECK(replica->finish_round(round_end(2, grown, 3)).result == Verdict::verified);
  CHECK(read_file(dir.path() / "r") == grown);
  SyncRoundEnd wrong = round_end(3, grown, 0);
  wrong.hash.low ^= 1;
  CHECK(replica->finish_round(wrong).result == Verdict::hash_mismatch);
  SyncRoundEnd longer = round_end(4, grown, 0);
  ++longer.length;
  CHECK(replica->finish_round(longer).result == Verdict::hash_mismatch);
}

TEST_CASE("blocks no sync sends are refused and write nothing") {
  ScratchDir dir;
  auto replica = SyncReplica::open(dir.fd(), "r", 0644, 4096);
  REQUIRE(replica.has_value());
  const Bytes big(4097, std::byte{1});
  CHECK(replica->write_block(0, big).error().verdict == Verdict::malformed);
  CHECK(replica->write_block(0, {}).error().verdict == Verdict::malformed);
  const Bytes one(1, std::byte{1});
  CHECK(replica->write_block(kMaxSyncLength / 4096, one).error().verdict == Verdict::malformed);
  CHECK(replica->write_block(~std::uint64_t{0}, one).error().verdict == Verdict::malformed);
  CHECK(fs::file_size(dir.path() / "r") == 0);
}

TEST_CASE("replica names from the network: one plain name, no symlink, one sender at a time") {
  ScratchDir dir;
  for (const char* bad : {"", "a/b", "..", ".", "/etc/passwd"}) {
    CAPTURE(bad);
    CHECK(SyncReplica::open(dir.fd(), bad, 0644, 4096).error().verdict == Verdict::rejected_path);
  }
  const fs::path outside = dir.path() / "outside";
  write_file(outside, Bytes(10, std::byte{7}));
  fs::create_symlink(outside, dir.path() / "link");
  CHECK(SyncReplica::open(dir.fd(), "link", 0644, 4096).error().verdict == Verdict::rejected_path);
  REQUIRE(::mkfifo((dir.path() / "fifo").c_str(), 0600) == 0);
  CHECK(SyncReplica::open(dir.fd(), "fifo", 0644, 4096).error().verdict == Verdict::rejected_path);
  fs::create_directory(dir.path() / "sub");
  CHECK_FALSE(SyncReplica::open(dir.fd(), "sub", 0644, 4096).has_value());
  auto first = SyncReplica::open(dir.fd(), "busy", 0644, 4096);
  REQUIRE(first.has_value());
  CHECK(SyncReplica::open(dir.fd(), "busy", 0644, 4096).error().verdict == Verdict::refused);
  CHECK(read_file(outside) == Bytes(10, std::byte{7}));
}

TEST_CASE("the receiver keeps the replica through rounds and counts them") {
  ScratchDir dir;
  const Bytes v1 = pattern_bytes(3 * 1024 + 100, 5);
  SyncReceiver receiver(dwcp::Stream{}, sync_header("img", 1024, v1.size()), dir.fd(), 1);
  for (std::uint64_t key = 0; key < 4; ++key) {
    CHECK(receiver.consume_block(key, block_of(v1, key, 1024)) == block_of(v1, key, 1024).size());
  }
  CHECK_FALSE(receiver.settled());
  receiver.consume(encode(round_end(1, v1, 4)));
  const Bytes keepalive = {std::byte{8}};  // between rounds: nothing to answer
  receiver.consume(keepalive);
  CHECK(receiver.settled());
  Bytes v2 = v1;
  v2[2000] ^= std::byte{1};
  v2.resize(2100);
  CHECK(receiver.consume_block(1, block_of(v2, 1, 1024)) == 1024);
  receiver.consume(encode(round_end(2, v2, 1)));
  receiver.consume(encode(round_end(3, v2, 0)));  // a round without changes
  const auto rounds = receiver.take_rounds();
  REQUIRE(rounds.size() == 3);
  CHECK(rounds[0].round == 1);
  CHECK(rounds[0].blocks == 4);
  CHECK(rounds[0].block_bytes == v1.size());
  CHECK(rounds[1].verdict.result == Verdict::verified);
  CHECK(rounds[1].verdict.bytes == 2100);
  CHECK(rounds[2].blocks == 0);
  CHECK(rounds[2].verdict.result == Verdict::verified);
  CHECK(receiver.take_rounds().empty());
  CHECK(receiver.settled());
  CHECK(read_file(dir.path() / "img") == v2);
  ReceiveTally tally;
  receiver.finish(tally);
  CHECK(tally.files == 1);
  CHECK(tally.files_written == 1);
  CHECK(tally.units == 3);
  CHECK(tally.verified_units == 3);
  CHECK(tally.sync_rounds == 3);
  CHECK(tally.messages == 5);
  CHECK(tally.digest.count() == 1);
}

TEST_CASE("a round that does not verify counts as an error; a round cut off is not verified") {
  ScratchDir dir;
  const Bytes v1 = pattern_bytes(2048, 6);
  SyncReceiver receiver(dwcp::Stream{}, sync_header("img", 1024), dir.fd(), 1);
  receiver.consume_block(0, block_of(v1, 0, 1024));  // block 1 never comes
  receiver.consume(encode(round_end(1, v1, 2)));
  receiver.consume_block(1, block_of(v1, 1, 1024));
  const auto rounds = receiver.take_rounds();
  REQUIRE(rounds.size() == 1);
  CHECK(rounds[0].verdict.result == Verdict::hash_mismatch);
  ReceiveTally tally;
  receiver.finish(tally);
  CHECK(tally.units == 2);
  CHECK(tally.verified_units == 0);
  CHECK(tally.verification_errors == 1);
  CHECK(tally.files_written == 0);
}

TEST_CASE("hostile sync streams are refused or dropped, and write nothing outside") {
  ScratchDir dir;
  SUBCASE("without --sync-dir") {
    SyncReceiver receiver(dwcp::Stream{}, sync_header("img", 1024), -1, 1);
    CHECK(receiver.consume_block(0, Bytes(10)) == 0);
    ReceiveTally tally;
    receiver.finish(tally);
    CHECK(tally.units == 1);
    CHECK(tally.verified_units == 0);
  }
  SUBCASE("a path") {
    SyncReceiver receiver(dwcp::Stream{}, sync_header("../img", 1024), dir.fd(), 1);
    CHECK(receiver.consume_block(0, Bytes(10)) == 0);
    ReceiveTally tally;
    receiver.finish(tally);
    CHECK(tally.rejected_paths == 1);
  }
  SUBCASE("a block too large, then everything dropped") {
    SyncReceiver receiver(dwcp::Stream{}, sync_header("img", 1024), dir.fd(), 1);
    CHECK(receiver.consume_block(0, Bytes(1025)) == 0);
    CHECK(receiver.consume_block(0, Bytes(10)) == 0);
    ReceiveTally tally;
    receiver.finish(tally);
    CHECK(tally.malformed_frames == 1);
    CHECK(fs::file_size(dir.path() / "img") == 0);
  }
  SUBCASE("a frame other than a round end, and rounds out of order") {
    SyncReceiver receiver(dwcp::Stream{}, sync_header("img", 1024), dir.fd(), 1);
    const Bytes data = {std::byte{2}, std::byte{'x'}};
    receiver.consume(data);
    ReceiveTally tally;
    receiver.finish(tally);
    CHECK(tally.malformed_frames == 1);
    SyncReceiver second(dwcp::Stream{}, sync_header("img2", 1024), dir.fd(), 1);
    second.consume(encode(round_end(2, Bytes{}, 0)));
    ReceiveTally tally2;
    second.finish(tally2);
    CHECK(tally2.malformed_frames == 1);
    CHECK(tally2.sync_rounds == 0);
  }
}

TEST_CASE("a stream receiver hands a sync header over only where taken, as the first unit") {
  ReceiveTarget target;
  Bytes header(encoded_size(sync_header("img", 4096)));
  REQUIRE(encode_header(header, sync_header("img", 4096)).has_value());
  StreamReceiver refusing(dwcp::Stream{}, target, 1);
  refusing.consume(header);
  CHECK_FALSE(refusing.sync_request().has_value());
  ReceiveTally tally;
  refusing.finish(tally);
  CHECK(tally.malformed_frames == 1);

  target.take_sync = true;
  StreamReceiver taking(dwcp::Stream{}, target, 1);
  taking.consume(header);
  REQUIRE(taking.sync_request().has_value());
  CHECK(taking.sync_request()->path == "img");
  CHECK(taking.sync_request()->block_size == 4096);
}
