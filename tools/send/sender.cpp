#include "tools/send/sender.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tools/common/address_resolver.h"
#include "tools/common/cpu_usage.h"
#include "tools/common/exit_codes.h"
#include "tools/common/test_pattern.h"
#include "tools/common/transfer_report.h"
#include "transport/api/node.h"

namespace dwcp::tools {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Bytes the app may queue per stream ahead of the connection's buffer: 4 MiB, Linux's
// default ceiling for a TCP send buffer.
constexpr std::size_t kSendQueue = std::size_t{4} << 20;
// The connection's buffer holds every byte until it is acknowledged, so it bounds the
// flight: on a lossy long path it must hold a bandwidth-delay product (500 Mbit/s x 150 ms
// = 9.4 MB) plus the round trip a lost packet takes to repair, about twice that. Shared
// by the streams, so -P 128 does not multiply the memory; never below 4 MiB a stream.
constexpr std::size_t kConnectionSendBuffer = std::size_t{64} << 20;
// A graceful close waits this long for the last bytes to be acknowledged.
constexpr auto kCloseTimeout = 60s;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::chrono::milliseconds to_millis(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

NodeOptions node_options(const SendOptions& options, const transport::SocketAddress& peer) {
  NodeOptions node;
  node.bind =
      peer.is_v6() ? transport::SocketAddress::any_v6(0) : transport::SocketAddress::any_v4(0);
  node.connection.congestion = options.congestion;
  node.connection.fixed_rate = options.rate_bits / 8;
  node.connection.stream_send_capacity =
      std::max(kSendQueue, kConnectionSendBuffer / std::max<std::size_t>(options.streams, 1));
  node.connection.handshake_timeout = std::chrono::duration_cast<transport::Duration>(
      std::chrono::duration<double>(options.connect_timeout));
  node.stream_send_queue = std::max(kSendQueue, 2 * options.message_size + 64);
  return node;
}

// Opens `count` streams, retrying while the command queue is busy (at most a second).
std::expected<std::vector<Stream>, std::string> open_streams(Connection& connection,
                                                             std::uint64_t count) {
  std::vector<Stream> streams;
  const auto deadline = Clock::now() + 1s;
  while (streams.size() < count) {
    auto stream = connection.open_stream();
    if (stream) {
      streams.push_back(*stream);
      continue;
    }
    if (stream.error() != OpenError::busy || Clock::now() > deadline) {
      std::string problem = "cannot open stream ";
      problem += std::to_string(streams.size() + 1);
      problem += ": ";
      problem += to_string(stream.error());
      return std::unexpected(problem);
    }
    std::this_thread::sleep_for(1ms);
  }
  return streams;
}

std::string describe(const std::optional<transport::CloseReason>& reason) {
  if (!reason) return "no close reason";
  std::string text = reason->idle_timeout ? "idle timeout" : reason->reason;
  if (text.empty()) text = reason->by_peer ? "closed by the peer" : "closed";
  if (reason->error_code != 0) {
    text += " (code ";
    text += std::to_string(reason->error_code);
    text += ")";
  }
  return text;
}

// The interval lines: bytes and counters since the last line.
class IntervalPrinter {
 public:
  IntervalPrinter(const SendOptions& options, std::FILE* out, Clock::time_point start)
      : enabled_(options.interval > 0.0 && !options.json),
        interval_(options.interval),
        out_(out),
        start_(start),
        next_(start + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(options.interval))) {
    if (enabled_) std::fputs(interval_header().c_str(), out_);
  }

  void poll(Clock::time_point now, std::uint64_t bytes, const Connection& connection,
            RttSummary& rtt) {
    if (now >= next_) emit(now, bytes, connection, rtt);
  }

  // The last, partial interval, as iperf3 prints it (unless it is too short to mean much).
  void finish(Clock::time_point now, std::uint64_t bytes, const Connection& connection,
              RttSummary& rtt) {
    if (seconds_between(start_, now) - last_seconds_ >= 0.1 * interval_) {
      emit(now, bytes, connection, rtt);
    }
  }

 private:
  void emit(Clock::time_point now, std::uint64_t bytes, const Connection& connection,
            RttSummary& rtt) {
    const auto stats = connection.stats();
    rtt.observe(stats);
    if (enabled_) {
      IntervalSample sample;
      sample.id = 1;
      sample.start = last_seconds_;
      sample.end = seconds_between(start_, now);
      sample.bytes = bytes - last_bytes_;
      sample.retransmitted_bytes = stats.stream_bytes_retransmitted - last_retransmitted_;
      sample.packets_lost = stats.packets_lost - last_lost_;
      sample.cwnd_bytes = stats.congestion_window;
      sample.rtt_us = std::chrono::duration<double, std::micro>(stats.smoothed_rtt).count();
      std::fputs(format_interval(sample).c_str(), out_);
      std::fflush(out_);
      last_seconds_ = sample.end;
    }
    last_bytes_ = bytes;
    last_retransmitted_ = stats.stream_bytes_retransmitted;
    last_lost_ = stats.packets_lost;
    const auto step = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(enabled_ ? interval_ : 0.1));
    while (next_ <= now) next_ += step;
  }

  bool enabled_;
  double interval_;
  std::FILE* out_;
  Clock::time_point start_;
  Clock::time_point next_;
  double last_seconds_ = 0.0;
  std::uint64_t last_bytes_ = 0;
  std::uint64_t last_retransmitted_ = 0;
  std::uint64_t last_lost_ = 0;
};

struct StreamState {
  Stream stream;
  std::uint64_t offset = 0;
  std::uint64_t budget = 0;  // bytes left to send; unused in timed mode
  std::uint64_t messages = 0;
};

}  // namespace

int run_send(const SendOptions& options, const std::atomic<bool>& stop, std::FILE* out) {
  auto peer = resolve_address(options.host, options.port);
  if (!peer) {
    std::fprintf(stderr, "dwcp-send: %s\n", peer.error().c_str());
    return kExitAddress;
  }
  auto node = Node::start(node_options(options, *peer));
  if (!node) {
    std::fprintf(stderr, "dwcp-send: cannot start a node: %s\n", node.error().c_str());
    return kExitAddress;
  }
  Connection connection = (*node)->connect(*peer);
  if (!connection.wait_established(to_millis(options.connect_timeout))) {
    const auto reason = connection.close_reason();
    std::string why = reason ? describe(reason) : "no answer (is dwcp-recv running there?)";
    std::fprintf(stderr, "dwcp-send: cannot connect to %s within %.1f s: %s\n",
                 peer->to_string().c_str(), options.connect_timeout, why.c_str());
    connection.abort();
    return kExitConnection;
  }
  auto opened = open_streams(connection, options.streams);
  if (!opened) {
    std::fprintf(stderr, "dwcp-send: %s\n", opened.error().c_str());
    connection.abort();
    return kExitTransfer;
  }
  std::vector<StreamState> streams;
  for (std::size_t i = 0; i < opened->size(); ++i) {
    StreamState state;
    state.stream = (*opened)[i];
    // -n is the total: the first streams carry the remainder.
    state.budget = options.bytes / options.streams + (i < options.bytes % options.streams ? 1 : 0);
    streams.push_back(state);
  }

  const bool timed = options.bytes == 0;
  const double cpu_start = process_cpu_seconds();
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(timed ? options.seconds : 24.0 * 3600.0));
  IntervalPrinter intervals(options, out, start);
  TransferReport report;
  report.role = "sender";
  report.id = 1;
  report.peer = peer->to_string();
  report.congestion = to_string(options.congestion);
  report.streams = options.streams;

  std::uint64_t total = 0;
  std::string failure;
  int idle_passes = 0;
  for (;;) {
    const Clock::time_point now = Clock::now();
    intervals.poll(now, total, connection, report.rtt);
    if (stop.load(std::memory_order_relaxed) || (timed && now >= deadline)) break;
    bool all_done = true;
    bool progressed = false;
    for (StreamState& s : streams) {
      if (!timed && s.budget == 0) continue;
      all_done = false;
      const std::size_t size =
          timed ? options.message_size
                : static_cast<std::size_t>(std::min<std::uint64_t>(options.message_size, s.budget));
      SendStatus why = SendStatus::accepted;
      const std::span<std::byte> room = s.stream.claim(size, &why);
      if (room.empty()) {
        if (why == SendStatus::back_pressured) continue;
        if (why == SendStatus::closed) {
          failure = "the connection ended: ";
          failure += describe(connection.close_reason());
        } else {
          failure = "stream ";
          failure += std::to_string(s.stream.id());
          failure += ": ";
          failure += to_string(why);
        }
        break;
      }
      fill_pattern(s.stream.id(), s.offset, room);
      const SendStatus committed = s.stream.commit(size);
      if (committed != SendStatus::accepted) {
        failure = "commit: ";
        failure += to_string(committed);
        break;
      }
      s.offset += size;
      if (!timed) s.budget -= size;
      ++s.messages;
      total += size;
      progressed = true;
    }
    if (!failure.empty() || all_done) break;
    if (progressed) {
      idle_passes = 0;
    } else if (++idle_passes < 64) {
      std::this_thread::yield();
    } else {
      // Every queue is full: the I/O thread needs the CPU more than we do.
      std::this_thread::sleep_for(50us);
    }
  }

  // Finish, then close: close() returns at once; status() turns closed once every byte
  // was acknowledged.
  for (StreamState& s : streams) s.stream.finish();
  connection.close();
  const Clock::time_point close_deadline = Clock::now() + kCloseTimeout;
  while (connection.status() != ConnectionStatus::closed && Clock::now() < close_deadline) {
    const auto seen = connection.events();
    if (connection.status() == ConnectionStatus::closed) break;
    intervals.poll(Clock::now(), total, connection, report.rtt);
    connection.wait(seen, 10ms);
  }
  const Clock::time_point end = Clock::now();
  intervals.finish(end, total, connection, report.rtt);
  report.seconds = seconds_between(start, end);
  report.cpu_seconds = process_cpu_seconds() - cpu_start;
  report.cpu_hz = cpu_clock_hz();
  report.bytes = total;
  for (const StreamState& s : streams) report.messages += s.messages;
  report.take_stats(connection.stats());
  const auto reason = connection.close_reason();
  const bool closed_cleanly = connection.status() == ConnectionStatus::closed && reason &&
                              reason->error_code == 0 && !reason->idle_timeout;
  report.complete = failure.empty() && closed_cleanly;
  if (!failure.empty()) {
    report.close_reason = failure;
  } else if (connection.status() != ConnectionStatus::closed) {
    report.close_reason = "not every byte was acknowledged within 60 s";
  } else if (!closed_cleanly) {
    report.close_reason = describe(reason);
  }
  if (connection.status() != ConnectionStatus::closed) connection.abort();

  if (options.json) {
    std::fprintf(out, "%s\n", format_json(report).c_str());
  } else {
    std::fputs(format_summary(report).c_str(), out);
  }
  std::fflush(out);
  if (!report.complete) {
    std::fprintf(stderr, "dwcp-send: transfer to %s failed: %s\n", report.peer.c_str(),
                 report.close_reason.c_str());
    return kExitTransfer;
  }
  return kExitOk;
}

}  // namespace dwcp::tools
