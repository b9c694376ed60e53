// The sending side of a sync without a connection: the manifest put together from its
// messages, and rounds that hand exactly the changed blocks to a sink that pushes back.
#include "tools/send/sync_round.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "simd/checksum.h"
#include "tools/send/replica_image.h"

using namespace dwcp::tools;
using Bytes = std::vector<std::byte>;
namespace fs = std::filesystem;

namespace {

class ScratchFile {
 public:
  ScratchFile() {
    std::string pattern = (fs::temp_directory_path() / "dwcp-sync-round-XXXXXX").string();
    const int fd = ::mkstemp(pattern.data());
    REQUIRE(fd >= 0);
    ::close(fd);
    path_ = pattern;
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  ~ScratchFile() {
    if (fd_ >= 0) ::close(fd_);
    std::error_code ignored;
    fs::remove(path_, ignored);
  }
  // Replaces the content and opens it for reading.
  int write(const Bytes& bytes) {
    {
      std::ofstream out(path_, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd_ >= 0);
    return fd_;
  }

 private:
  fs::path path_;
  int fd_ = -1;
};

Bytes random_bytes(std::size_t size, std::uint64_t seed) {
  Bytes out(size);
  std::uint64_t state = seed * 0x9e3779b97f4a7c15ULL + 7;
  for (std::byte& b : out) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    b = static_cast<std::byte>(state);
  }
  return out;
}

// A receiver's view: applies the blocks it is handed to a copy of the replica, refusing
// every `refuse_every`-th offer as back-pressured.
struct FakeReplica {
  Bytes content;
  std::uint32_t block_size = 1024;
  int refuse_every = 0;
  int offers = 0;
  std::map<std::uint64_t, int> sent;  // key -> times taken

  BlockSink sink() {
    return [this](std::uint64_t key, std::span<const std::byte> bytes) {
      ++offers;
      if (refuse_every != 0 && offers % refuse_every == 0) return dwcp::SendStatus::back_pressured;
      const std::size_t at = key * block_size;
      if (content.size() < at + bytes.size()) content.resize(at + bytes.size());
      std::memcpy(content.data() + at, bytes.data(), bytes.size());
      ++sent[key];
      return dwcp::SendStatus::accepted;
    };
  }
};

// Runs a round to its end (bounded): the steps it took.
int run_round(SyncRound& round, const BlockSink& sink) {
  int steps = 0;
  while (!round.done()) {
    REQUIRE(steps < 100000);
    auto step = round.step(sink, 7);
    REQUIRE(step.has_value());
    ++steps;
  }
  return steps;
}

}  // namespace

TEST_CASE("a manifest is put together from messages in order, and checked") {
  ManifestAssembler assembler(1000);
  SyncManifest first;
  first.last = false;
  first.length = 2500;
  first.hashes = {1, 2};
  REQUIRE(assembler.add(first).has_value());
  CHECK_FALSE(assembler.complete());
  SyncManifest second;
  second.length = 2500;
  second.first_block = 2;
  second.hashes = {3};
  REQUIRE(assembler.add(second).has_value());
  CHECK(assembler.complete());
  CHECK(assembler.image().length == 2500);
  CHECK(assembler.image().hashes == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(assembler.image().holds(2, 3));
  CHECK_FALSE(assembler.image().holds(3, 3));
  CHECK_FALSE(assembler.add(second).has_value());  // after the last

  ManifestAssembler gap(1000);
  SyncManifest skipped = second;
  CHECK_FALSE(gap.add(skipped).has_value());
  ManifestAssembler short_one(1000);
  SyncManifest missing = first;
  missing.last = true;
  CHECK_FALSE(short_one.add(missing).has_value());  // 2500 bytes are three blocks
  ManifestAssembler too_many(1000);
  SyncManifest extra = first;
  extra.length = 1000;
  CHECK_FALSE(too_many.add(extra).has_value());
  ManifestAssembler lengths(1000);
  REQUIRE(lengths.add(first).has_value());
  SyncManifest other = second;
  other.length = 2600;
  CHECK_FALSE(lengths.add(other).has_value());
  ManifestAssembler empty(4096);
  REQUIRE(empty.add(SyncManifest{}).has_value());
  CHECK(empty.complete());
  CHECK(empty.image().hashes.empty());
}

TEST_CASE("a first round against an empty replica sends every block") {
  ScratchFile file;
  const Bytes v1 = random_bytes(10 * 1024 + 10, 1);
  const ReplicaImage empty;
  SyncRound round(file.write(v1), 1024, empty);
  FakeReplica replica;
  replica.refuse_every = 3;
  run_round(round, replica.sink());
  CHECK(round.blocks() == 11);
  CHECK(round.changed_blocks() == 11);
  CHECK(round.changed_bytes() == v1.size());
  CHECK(round.length() == v1.size());
  CHECK(round.hash() == dwcp::simd::xxh3_128(v1));
  CHECK(replica.content == v1);
  for (const auto& [key, times] : replica.sent) CHECK(times == 1);
}

TEST_CASE("a later round sends the changed blocks only, whatever the back-pressure") {
  ScratchFile file;
  const Bytes v1 = random_bytes(64 * 1024, 2);
  const ReplicaImage empty;
  SyncRound first(file.write(v1), 1024, empty);
  FakeReplica replica;
  run_round(first, replica.sink());
  const ReplicaImage known = first.take_image();
  CHECK(known.length == v1.size());
  CHECK(known.hashes.size() == 64);

  Bytes v2 = v1;
  for (const std::size_t at : {std::size_t{5}, std::size_t{5 * 1024 + 1000},
                               std::size_t{5 * 1024 + 1001}, std::size_t{63 * 1024}}) {
    v2[at] ^= std::byte{0x40};
  }
  for (const int refuse_every : {0, 2, 5}) {
    CAPTURE(refuse_every);
    replica.sent.clear();
    replica.refuse_every = refuse_every;
    replica.content = v1;
    SyncRound second(file.write(v2), 1024, known);
    run_round(second, replica.sink());
    CHECK(second.changed_blocks() == 3);
    CHECK(replica.sent.size() == 3);
    CHECK(replica.sent.count(0) == 1);
    CHECK(replica.sent.count(5) == 1);
    CHECK(replica.sent.count(63) == 1);
    CHECK(replica.content == v2);
    CHECK(second.hash() == dwcp::simd::xxh3_128(v2));
  }
}

TEST_CASE("a file that grows sends its new blocks; one that shrinks sends none") {
  ScratchFile file;
  const Bytes v1 = random_bytes(4 * 1024 + 100, 3);
  const ReplicaImage empty;
  SyncRound first(file.write(v1), 1024, empty);
  FakeReplica replica;
  run_round(first, replica.sink());
  const ReplicaImage known = first.take_image();

  Bytes grown = v1;
  const Bytes more = random_bytes(3000, 4);
  grown.insert(grown.end(), more.begin(), more.end());
  replica.sent.clear();
  SyncRound growing(file.write(grown), 1024, known);
  run_round(growing, replica.sink());
  // The short last block (index 4) is now full, and blocks 5..7 are new.
  CHECK(growing.changed_blocks() == 4);
  CHECK(replica.sent.begin()->first == 4);
  CHECK(replica.content == grown);

  const Bytes shrunk(v1.begin(), v1.begin() + 2048);
  replica.sent.clear();
  SyncRound shrinking(file.write(shrunk), 1024, known);
  run_round(shrinking, replica.sink());
  CHECK(shrinking.changed_blocks() == 0);
  CHECK(shrinking.length() == 2048);
  CHECK(shrinking.take_image().hashes.size() == 2);
}

TEST_CASE("a sink that refuses for good ends the round with its status") {
  ScratchFile file;
  const ReplicaImage empty;
  SyncRound round(file.write(random_bytes(5000, 5)), 1024, empty);
  const BlockSink closed = [](std::uint64_t, std::span<const std::byte>) {
    return dwcp::SendStatus::closed;
  };
  const auto step = round.step(closed);
  REQUIRE_FALSE(step.has_value());
  CHECK(step.error().status == dwcp::SendStatus::closed);
  CHECK(step.error().local_error.empty());
}
