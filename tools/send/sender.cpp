#include "tools/send/sender.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tools/common/address_resolver.h"
#include "tools/common/content_digest.h"
#include "tools/common/cpu_usage.h"
#include "tools/common/exit_codes.h"
#include "tools/common/transfer_report.h"
#include "tools/send/file_source.h"
#include "tools/send/stream_sender.h"
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
  node.stream_send_queue = std::max(kSendQueue, 2 * (options.message_size + kDataOverhead) + 64);
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

std::string describe(const StepFailure& failure, const Stream& stream,
                     const Connection& connection) {
  if (!failure.local_error.empty()) return failure.local_error;
  if (failure.status == SendStatus::closed) {
    return "the connection ended: " + describe(connection.close_reason());
  }
  return "stream " + std::to_string(stream.id()) + ": " + std::string(to_string(failure.status));
}

struct StreamState {
  Stream stream;
  StreamSender sender;
};

}  // namespace

int run_send(const SendOptions& options, const std::atomic<bool>& stop, std::FILE* out) {
  // The files first: a missing one fails at once, before any network traffic.
  std::optional<FileQueue> files;
  if (!options.file.empty()) {
    auto sources = collect_sources(options.file);
    if (!sources) {
      std::fprintf(stderr, "dwcp-send: %s\n", sources.error().c_str());
      return kExitLocalFile;
    }
    for (const std::string& skipped : sources->skipped) {
      std::fprintf(stderr, "dwcp-send: skipping '%s': not a regular file\n", skipped.c_str());
    }
    files.emplace(std::move(sources->files));
  }
  // A file keeps one stream busy: more streams than files would idle.
  const std::uint64_t stream_count =
      files ? std::min<std::uint64_t>(options.streams, files->size()) : options.streams;
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
  auto opened = open_streams(connection, stream_count);
  if (!opened) {
    std::fprintf(stderr, "dwcp-send: %s\n", opened.error().c_str());
    connection.abort();
    return kExitTransfer;
  }
  const bool timed = options.bytes == 0 && !files;
  std::vector<StreamState> streams;
  for (std::size_t i = 0; i < opened->size(); ++i) {
    const Stream& stream = (*opened)[i];
    if (files) {
      streams.push_back(StreamState{stream, StreamSender(stream, *files)});
      continue;
    }
    // -n is the total: the first streams carry the remainder.
    const std::uint64_t budget =
        options.bytes / options.streams + (i < options.bytes % options.streams ? 1 : 0);
    streams.push_back(StreamState{stream, StreamSender(stream, budget, timed)});
  }

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
  report.streams = stream_count;

  std::uint64_t total = 0;
  std::string failure;
  bool local_failure = false;
  bool stopping = false;
  std::optional<Clock::time_point> verdict_deadline;
  int idle_passes = 0;
  for (;;) {
    const Clock::time_point now = Clock::now();
    intervals.poll(now, total, connection, report.rtt);
    if (!stopping && (stop.load(std::memory_order_relaxed) || (timed && now >= deadline))) {
      // Every stream still ends its unit with a trailer, so the receiver can verify.
      stopping = true;
      for (StreamState& s : streams) s.sender.stop();
    }
    bool all_sent = true;
    bool progressed = false;
    for (StreamState& s : streams) {
      s.sender.collect_verdicts();
      if (s.sender.sending_done()) continue;
      all_sent = false;
      const auto step = s.sender.step(options.message_size);
      if (!step) {
        failure = describe(step.error(), s.stream, connection);
        local_failure = !step.error().local_error.empty();
        break;
      }
      total += step->bytes;
      progressed = progressed || step->progressed;
    }
    if (!failure.empty()) break;
    if (all_sent) {
      // Everything is queued; the verdicts come once the receiver has it all.
      const auto seen = connection.events();
      bool all_verdicts = true;
      for (StreamState& s : streams) {
        s.sender.collect_verdicts();
        all_verdicts = all_verdicts && s.sender.verdicts_done();
      }
      if (all_verdicts) break;
      if (connection.status() == ConnectionStatus::closed) {
        failure = "the connection ended: " + describe(connection.close_reason());
        break;
      }
      if (!verdict_deadline) verdict_deadline = now + kCloseTimeout;
      if (now > *verdict_deadline) {
        failure = "the receiver did not confirm every stream within 60 s";
        break;
      }
      connection.wait(seen, 10ms);
      continue;
    }
    if (progressed) {
      idle_passes = 0;
    } else if (++idle_passes < 64) {
      std::this_thread::yield();
    } else {
      // Every queue is full: the I/O thread needs the CPU more than we do.
      std::this_thread::sleep_for(50us);
    }
  }

  if (local_failure) {
    // The receiver must not take a half-sent file for a whole one.
    connection.abort();
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
  ContentDigest digest;
  std::uint64_t units = 0;
  std::uint64_t verified_units = 0;
  std::vector<std::string> unit_failures;
  for (const StreamState& s : streams) {
    report.messages += s.sender.messages();
    report.files += s.sender.files();
    report.verification_errors += s.sender.failed_units();
    units += s.sender.units();
    verified_units += s.sender.verified_units();
    s.sender.add_digests(digest);
    unit_failures.insert(unit_failures.end(), s.sender.failures().begin(),
                         s.sender.failures().end());
  }
  report.verified = units != 0 && verified_units == units && report.verification_errors == 0;
  report.xxh3_128 = digest.hex();
  report.take_stats(connection.stats());
  const auto reason = connection.close_reason();
  const bool closed_cleanly = connection.status() == ConnectionStatus::closed && reason &&
                              reason->error_code == 0 && !reason->idle_timeout;
  bool files_cut_short = files && files->closed_with_files_left();
  for (const StreamState& s : streams) files_cut_short = files_cut_short || s.sender.cut_short();
  if (failure.empty() && files_cut_short) failure = "interrupted before every file was sent";
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
    return local_failure ? kExitLocalFile : kExitTransfer;
  }
  if (!report.verified) {
    std::string why = unit_failures.empty() ? "not every stream was confirmed" : unit_failures[0];
    if (unit_failures.size() > 1) {
      why += " (and " + std::to_string(unit_failures.size() - 1) + " more)";
    }
    std::fprintf(stderr, "dwcp-send: transfer to %s not verified: %s\n", report.peer.c_str(),
                 why.c_str());
    return kExitTransfer;
  }
  return kExitOk;
}

}  // namespace dwcp::tools
