#include "tools/send/sync_sender.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tools/common/close_reason_text.h"
#include "tools/common/cpu_usage.h"
#include "tools/common/exit_codes.h"
#include "tools/common/node_flags.h"
#include "tools/common/stream_header.h"
#include "tools/common/sync_report.h"
#include "tools/common/transfer_report.h"
#include "tools/send/open_connection.h"
#include "tools/send/replica_image.h"
#include "tools/send/sync_round.h"
#include "transport/api/node.h"

namespace dwcp::tools {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The receiver's manifest, and each round's verdict, may take this long without any
// progress (the receiver hashes the whole replica for both).
constexpr auto kReplyTimeout = 60s;
// A graceful close waits this long for the last bytes to be acknowledged.
constexpr auto kCloseTimeout = 60s;
// Between rounds: well inside the 30 s idle timeout the peers agree on.
constexpr auto kKeepaliveEvery = 5s;
// As dwcp-send's other transfers (tools/send/sender.cpp): 4 MiB queued per stream ahead of
// a 64 MiB connection buffer, and 4 MiB windows for what comes back (the manifest).
constexpr std::size_t kSendQueue = std::size_t{4} << 20;
constexpr std::size_t kConnectionSendBuffer = std::size_t{64} << 20;
constexpr std::uint64_t kStreamWindow = std::uint64_t{4} << 20;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

Clock::duration to_duration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// What --watch compares between looks: a new size, mtime or file (an editor's rename)
// means a round is due. File times tick coarsely (a kernel clock tick, up to 10 ms): a
// write in the same tick as a round's read would leave the mtime as the round saw it and go
// unnoticed (git's "racily clean" entries). So a round does not read a file whose mtime is
// younger than this: it waits until the tick is surely over, and any later write gets a
// later mtime.
constexpr std::int64_t kTimestampGranuleNs = 20'000'000;
struct FileState {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  mode_t mode = 0;

  friend bool operator==(const FileState& a, const FileState& b) {
    return a.device == b.device && a.inode == b.inode && a.size == b.size &&
           a.mtime_ns == b.mtime_ns;
  }
};

std::int64_t wall_clock_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

FileState state_of(const struct stat& info) {
  FileState state;
  state.device = info.st_dev;
  state.inode = info.st_ino;
  state.size = info.st_size;
  state.mtime_ns =
      static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
  state.mode = info.st_mode;
  return state;
}

// The file, opened for one round. Error: one line naming it.
struct OpenFile {
  int fd = -1;
  FileState state;
};

std::expected<OpenFile, std::string> open_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected("cannot read '" + path + "': " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return std::unexpected("cannot sync '" + path + "': not a regular file");
  }
  if (static_cast<std::uint64_t>(info.st_size) > kMaxSyncLength) {
    ::close(fd);
    return std::unexpected("cannot sync '" + path + "': larger than 16 TiB");
  }
  return OpenFile{fd, state_of(info)};
}

NodeOptions node_options(const SendOptions& options, const transport::SocketAddress& peer) {
  NodeOptions node;
  apply(options.node, node);
  node.bind =
      peer.is_v6() ? transport::SocketAddress::any_v6(0) : transport::SocketAddress::any_v4(0);
  node.connection.congestion = options.congestion;
  node.connection.fixed_rate = options.rate_bits / 8;
  node.connection.stream_send_capacity = kConnectionSendBuffer;
  node.connection.params.initial_max_stream_data = kStreamWindow;
  node.connection.params.initial_max_data = 4 * kStreamWindow;
  node.connection.handshake_timeout = std::chrono::duration_cast<transport::Duration>(
      std::chrono::duration<double>(options.connect_timeout));
  // A block is at most a message: half the queue, less 8 (transport/api/options.h).
  node.stream_send_queue = std::max(kSendQueue, 2 * (std::size_t{options.block_size} + 16) + 64);
  return node;
}

// How a sync ended, when it did not end well.
struct Failure {
  std::string why;
  int exit_code = kExitTransfer;
};

class SyncClient {
 public:
  SyncClient(const SendOptions& options, const std::atomic<bool>& stop, std::FILE* out,
             Connection& connection, Stream stream)
      : options_(options),
        stop_(stop),
        out_(out),
        connection_(connection),
        stream_(std::move(stream)),
        assembler_(options.block_size) {}

  // Sends the header and takes the manifest.
  std::optional<Failure> start(const OpenFile& file, const std::string& name);
  // One round: the changed blocks, the round end, the verdict.
  std::optional<Failure> run_round(const OpenFile& file);
  // Waits until the next round is due: true, or false when the sync is over (stop, -t,
  // --rounds, or a failure in `failure`).
  bool wait_for_next_round(Clock::time_point start, std::optional<Failure>& failure);

  [[nodiscard]] std::uint64_t rounds() const noexcept { return rounds_; }
  [[nodiscard]] std::uint64_t verified_rounds() const noexcept { return verified_rounds_; }
  [[nodiscard]] std::uint64_t blocks_sent() const noexcept { return blocks_sent_; }
  [[nodiscard]] std::uint64_t block_bytes_sent() const noexcept { return block_bytes_sent_; }
  [[nodiscard]] const std::string& last_hash() const noexcept { return last_hash_; }

 private:
  // Reads the messages waiting on the stream: each goes to `take` (false: stop reading).
  template <typename Take>
  void read_messages(Take take);
  // Sends one frame, waiting (bounded) while the stream pushes back.
  std::optional<Failure> send_frame(std::span<const std::byte> frame);
  std::optional<Failure> connection_failure() const;
  [[nodiscard]] bool round_due(const FileState& now) const;

  const SendOptions& options_;
  const std::atomic<bool>& stop_;
  std::FILE* out_;
  Connection& connection_;
  Stream stream_;
  ManifestAssembler assembler_;
  ReplicaImage image_;
  FileState last_state_;
  std::uint64_t rounds_ = 0;
  std::uint64_t verified_rounds_ = 0;
  std::uint64_t blocks_sent_ = 0;
  std::uint64_t block_bytes_sent_ = 0;
  std::string last_hash_;
  Clock::time_point last_sent_ = Clock::now();
};

template <typename Take>
void SyncClient::read_messages(Take take) {
  for (auto message = stream_.peek(); !message.empty(); message = stream_.peek()) {
    const bool more = take(message);
    stream_.release();
    if (!more) return;
  }
}

std::optional<Failure> SyncClient::connection_failure() const {
  if (connection_.status() != ConnectionStatus::closed) return std::nullopt;
  return Failure{"the connection ended: " + describe(connection_.close_reason())};
}

std::optional<Failure> SyncClient::send_frame(std::span<const std::byte> frame) {
  const auto deadline = Clock::now() + kReplyTimeout;
  for (;;) {
    const auto seen = connection_.events();
    const SendStatus status = stream_.send(frame);
    if (status == SendStatus::accepted) {
      last_sent_ = Clock::now();
      return std::nullopt;
    }
    if (status != SendStatus::back_pressured) {
      if (auto failure = connection_failure()) return failure;
      return Failure{"stream " + std::to_string(stream_.id()) + ": " +
                     std::string(to_string(status))};
    }
    if (Clock::now() > deadline) return Failure{"the stream did not drain within 60 s"};
    connection_.wait(seen, 1ms);
  }
}

std::optional<Failure> SyncClient::start(const OpenFile& file, const std::string& name) {
  StreamHeader header;
  header.kind = ContentKind::sync;
  header.size = static_cast<std::uint64_t>(file.state.size);
  header.mode = file.state.mode & 07777;
  header.path = name;
  header.block_size = options_.block_size;
  std::vector<std::byte> frame(encoded_size(header));
  if (auto encoded = encode_header(frame, header); !encoded) {
    return Failure{"cannot sync '" + name + "': " + std::string(to_string(encoded.error())),
                   kExitLocalFile};
  }
  if (auto failure = send_frame(frame)) return failure;

  std::optional<Failure> failure;
  Clock::time_point last_progress = Clock::now();
  while (!assembler_.complete() && !failure) {
    const auto seen = connection_.events();
    bool progressed = false;
    read_messages([&](std::span<const std::byte> message) {
      progressed = true;
      const auto type = frame_type(message);
      if (type == FrameType::verdict) {
        const auto verdict = decode_verdict(message);
        failure = Failure{"the receiver refuses the sync: " +
                          std::string(verdict ? to_string(verdict->result) : "malformed")};
        return false;
      }
      auto manifest = decode_manifest(message);
      if (!manifest) {
        failure = Failure{"a malformed manifest from the receiver: " +
                          std::string(to_string(manifest.error()))};
        return false;
      }
      if (auto added = assembler_.add(*manifest); !added) {
        failure = Failure{"a malformed manifest from the receiver: " + added.error()};
        return false;
      }
      return !assembler_.complete();
    });
    if (failure || assembler_.complete()) break;
    const auto now = Clock::now();
    if (progressed) last_progress = now;
    if (stop_.load(std::memory_order_relaxed)) return Failure{"interrupted before round 1"};
    if (auto closed = connection_failure()) return closed;
    if (now - last_progress > kReplyTimeout) {
      return Failure{"the receiver did not send its manifest within 60 s"};
    }
    connection_.wait(seen, 10ms);
  }
  if (failure) return failure;
  image_ = assembler_.image();
  return std::nullopt;
}

std::optional<Failure> SyncClient::run_round(const OpenFile& file) {
  const std::uint64_t round_number = rounds_ + 1;
  last_state_ = file.state;
  const std::int64_t settled = file.state.mtime_ns + kTimestampGranuleNs;
  if (const std::int64_t young = settled - wall_clock_ns(); young > 0) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(young, kTimestampGranuleNs)));
  }
  const auto before = connection_.stats();
  const Clock::time_point start = Clock::now();
  SyncRound round(file.fd, options_.block_size, image_);
  const BlockSink sink = [this](std::uint64_t key, std::span<const std::byte> block) {
    return stream_.send_block(key, block);
  };
  int idle_passes = 0;
  while (!round.done()) {
    if (stop_.load(std::memory_order_relaxed)) {
      return Failure{"interrupted in round " + std::to_string(round_number)};
    }
    auto step = round.step(sink);
    if (!step) {
      if (!step.error().local_error.empty()) {
        return Failure{"'" + options_.sync + "': " + step.error().local_error, kExitLocalFile};
      }
      if (auto failure = connection_failure()) return failure;
      return Failure{"stream " + std::to_string(stream_.id()) + ": " +
                     std::string(to_string(step.error().status))};
    }
    if (step->progressed) {
      idle_passes = 0;
      continue;
    }
    if (auto failure = connection_failure()) return failure;
    // The stream's queue is full: the I/O thread needs the CPU more than we do.
    if (++idle_passes < 64) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(50us);
    }
  }
  SyncRoundEnd end;
  end.round = round_number;
  end.length = round.length();
  end.blocks = round.changed_blocks();
  end.hash = round.hash();
  std::vector<std::byte> frame(kRoundEndSize);
  if (auto encoded = encode_round_end(frame, end); !encoded) {
    return Failure{"cannot encode round " + std::to_string(round_number) + ": " +
                   std::string(to_string(encoded.error()))};
  }
  if (auto failure = send_frame(frame)) return failure;

  std::optional<StreamVerdict> verdict;
  std::optional<Failure> failure;
  Clock::time_point last_progress = Clock::now();
  while (!verdict && !failure) {
    const auto seen = connection_.events();
    read_messages([&](std::span<const std::byte> message) {
      auto decoded = decode_verdict(message);
      if (!decoded) {
        failure = Failure{"a malformed verdict from the receiver: " +
                          std::string(to_string(decoded.error()))};
      } else {
        verdict = *decoded;
      }
      return false;
    });
    if (verdict || failure) break;
    const auto now = Clock::now();
    if (stop_.load(std::memory_order_relaxed)) {
      return Failure{"interrupted in round " + std::to_string(round_number)};
    }
    if (auto closed = connection_failure()) return closed;
    // The receiver hashes the whole replica before it answers; its ACKs keep coming.
    if (connection_.stats().bytes_received != before.bytes_received) last_progress = now;
    if (now - last_progress > kReplyTimeout) {
      return Failure{"no verdict on round " + std::to_string(round_number) + " within 60 s"};
    }
    connection_.wait(seen, 10ms);
  }
  if (failure) return failure;

  const auto after = connection_.stats();
  ++rounds_;
  blocks_sent_ += round.changed_blocks();
  block_bytes_sent_ += round.changed_bytes();
  SyncRoundReport report;
  report.round = round_number;
  report.seconds = seconds_between(start, Clock::now());
  report.length = round.length();
  report.blocks = round.blocks();
  report.blocks_changed = round.changed_blocks();
  report.changed_bytes = round.changed_bytes();
  report.blocks_whole = after.blocks_sent_whole - before.blocks_sent_whole;
  report.blocks_delta = after.blocks_sent_delta - before.blocks_sent_delta;
  report.block_bytes_saved = after.block_bytes_saved - before.block_bytes_saved;
  report.wire_bytes_sent = after.bytes_sent - before.bytes_sent;
  report.wire_bytes_received = after.bytes_received - before.bytes_received;
  report.verdict = verdict->result;
  report.xxh3_128 = end.hash.to_hex();
  last_hash_ = report.xxh3_128;
  std::fputs(
      options_.json ? (format_round_json(report) + "\n").c_str() : format_round(report).c_str(),
      out_);
  std::fflush(out_);
  if (verdict->result != Verdict::verified) {
    return Failure{"round " + std::to_string(round_number) +
                   ": the receiver says: " + std::string(to_string(verdict->result))};
  }
  ++verified_rounds_;
  image_ = round.take_image();
  return std::nullopt;
}

bool SyncClient::round_due(const FileState& now) const {
  return !(now == last_state_);
}

bool SyncClient::wait_for_next_round(Clock::time_point start, std::optional<Failure>& failure) {
  const std::uint64_t limit = options_.rounds != 0 ? options_.rounds : (options_.watch ? 0 : 1);
  if (limit != 0 && rounds_ >= limit) return false;
  const bool bounded = options_.sync_seconds > 0.0;
  const Clock::time_point end_of_run = start + to_duration(options_.sync_seconds);
  const Clock::duration pause = to_duration(options_.interval);
  // --watch looks at once (the file may have changed during the round), then every -i.
  Clock::time_point next_look =
      Clock::now() + (options_.watch ? std::min(pause, Clock::duration(10ms)) : pause);
  for (;;) {
    const auto seen = connection_.events();
    const Clock::time_point now = Clock::now();
    if (stop_.load(std::memory_order_relaxed)) return false;
    if (bounded && now >= end_of_run) return false;
    if (auto closed = connection_failure()) {
      failure = closed;
      return false;
    }
    // The receiver answers nothing between rounds; anything it sends is out of order.
    bool unexpected = false;
    read_messages([&](std::span<const std::byte>) {
      unexpected = true;
      return false;
    });
    if (unexpected) {
      failure = Failure{"an unexpected message from the receiver between rounds"};
      return false;
    }
    if (now >= next_look) {
      if (!options_.watch) return true;
      struct stat info {};
      // A file that is gone for a moment (replaced by a rename) is looked at again later.
      if (::stat(options_.sync.c_str(), &info) == 0 && round_due(state_of(info))) return true;
      next_look = now + std::max(pause, Clock::duration(10ms));
    }
    if (now - last_sent_ >= kKeepaliveEvery) {
      std::array<std::byte, kKeepaliveSize> frame{};
      if (!encode_keepalive(frame)) return false;  // cannot fail: the frame has room
      if (auto problem = send_frame(frame)) {
        failure = problem;
        return false;
      }
    }
    auto wake = std::min(next_look, last_sent_ + kKeepaliveEvery);
    if (bounded) wake = std::min(wake, end_of_run);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now);
    connection_.wait(seen, std::clamp(wait, 1ms, 100ms));
  }
}

}  // namespace

int run_sync(const SendOptions& options, const std::atomic<bool>& stop, std::FILE* out) {
  // The file first: one that cannot be read fails at once, before any network traffic.
  const std::string name = std::filesystem::path(options.sync).filename().string();
  auto first = open_file(options.sync);
  if (!first) {
    std::fprintf(stderr, "dwcp-send: %s\n", first.error().c_str());
    return kExitLocalFile;
  }
  ::close(first->fd);
  if (name.empty() || name == "." || name == "..") {
    std::fprintf(stderr, "dwcp-send: cannot sync '%s': it names no file\n", options.sync.c_str());
    return kExitLocalFile;
  }
  auto started = open_connection(
      options, [&](const transport::SocketAddress& peer) { return node_options(options, peer); });
  if (!started) return started.error();
  const std::string& io = started->io;
  const transport::SocketAddress& peer = started->peer;
  Connection& connection = started->connection;
  auto stream = connection.open_stream();
  for (int attempt = 0; !stream && stream.error() == OpenError::busy && attempt < 1000; ++attempt) {
    std::this_thread::sleep_for(1ms);
    stream = connection.open_stream();
  }
  if (!stream) {
    std::fprintf(stderr, "dwcp-send: cannot open a stream: %s\n",
                 std::string(to_string(stream.error())).c_str());
    connection.abort();
    return kExitTransfer;
  }
  if (!options.json) std::fprintf(out, "io: %s\n", io.c_str());

  const double cpu_start = process_cpu_seconds();
  const Clock::time_point start = Clock::now();
  SyncClient client(options, stop, out, connection, *stream);
  std::optional<Failure> failure;
  for (bool first_round = true;; first_round = false) {
    auto file = open_file(options.sync);
    if (!file) {
      failure = Failure{file.error(), kExitLocalFile};
      break;
    }
    if (first_round) failure = client.start(*file, name);
    if (!failure) failure = client.run_round(*file);
    ::close(file->fd);
    if (failure || !client.wait_for_next_round(start, failure)) break;
  }

  if (failure && failure->exit_code == kExitLocalFile) {
    // The receiver must not take a half-sent round for a whole one.
    connection.abort();
  }
  stream->finish();
  connection.close();
  const Clock::time_point close_deadline = Clock::now() + kCloseTimeout;
  while (connection.status() != ConnectionStatus::closed && Clock::now() < close_deadline) {
    const auto seen = connection.events();
    if (connection.status() == ConnectionStatus::closed) break;
    connection.wait(seen, 10ms);
  }
  const Clock::time_point end = Clock::now();
  const auto stats = connection.stats();
  const auto reason = connection.close_reason();
  const bool closed_cleanly = connection.status() == ConnectionStatus::closed && reason &&
                              reason->error_code == 0 && !reason->idle_timeout;

  TransferReport report;
  report.role = "sender";
  report.id = 1;
  report.peer = peer.to_string();
  report.congestion = to_string(options.congestion);
  report.streams = 1;
  report.io = io;
  report.seconds = seconds_between(start, end);
  report.cpu_seconds = process_cpu_seconds() - cpu_start;
  report.cpu_hz = cpu_clock_hz();
  report.bytes = client.block_bytes_sent();
  report.messages = client.blocks_sent();
  report.files = 1;
  report.verification_errors = client.rounds() - client.verified_rounds();
  report.verified = !failure && client.rounds() != 0 && client.verified_rounds() == client.rounds();
  report.xxh3_128 = client.last_hash();
  report.take_stats(stats);
  SyncTotals totals;
  totals.take_stats(stats);
  totals.rounds = client.rounds();
  totals.rounds_verified = client.verified_rounds();
  report.sync = totals;
  if (failure) {
    report.close_reason = failure->why;
  } else if (connection.status() != ConnectionStatus::closed) {
    report.close_reason = "not every byte was acknowledged within 60 s";
  } else if (!closed_cleanly) {
    report.close_reason = describe(reason);
  }
  report.complete = report.close_reason.empty();
  if (connection.status() != ConnectionStatus::closed) connection.abort();

  if (options.json) {
    std::fprintf(out, "%s\n", format_json(report).c_str());
  } else {
    std::fputs(format_summary(report).c_str(), out);
  }
  std::fflush(out);
  if (!report.complete) {
    std::fprintf(stderr, "dwcp-send: sync of '%s' to %s failed: %s\n", options.sync.c_str(),
                 report.peer.c_str(), report.close_reason.c_str());
    return failure ? failure->exit_code : kExitTransfer;
  }
  return kExitOk;
}

}  // namespace dwcp::tools
