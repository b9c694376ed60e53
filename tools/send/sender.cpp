#include "tools/send/sender.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tools/common/close_reason_text.h"
#include "tools/common/content_digest.h"
#include "tools/common/cpu_usage.h"
#include "tools/common/exit_codes.h"
#include "tools/common/file_source.h"
#include "tools/common/node_flags.h"
#include "tools/common/send_backlog.h"
#include "tools/common/stream_sender.h"
#include "tools/common/transfer_report.h"
#include "tools/send/open_connection.h"
#include "tools/send/reverse_stream.h"
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
// Passes that yield while the send queues are full before waiting to be told of room: a
// few, since room often comes back within a pass of the I/O thread.
constexpr int kYieldPasses = 8;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// What the receiving side offers, as dwcp-recv does (tools/recv/receiver.cpp): a 4 MiB
// window per stream, four times that per connection.
constexpr std::uint64_t kStreamWindow = std::uint64_t{4} << 20;

NodeOptions node_options(const SendOptions& options, const transport::SocketAddress& peer) {
  NodeOptions node;
  apply(options.node, node);
  if (options.reverse || options.bidir) {
    node.connection.params.initial_max_stream_data = kStreamWindow;
    node.connection.params.initial_max_data = 4 * kStreamWindow;
  }
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

// The bytes one interval line counts: sent (the pattern or files), or received (-R), or
// with --bidir one line each.
enum class Direction : std::uint8_t { sent, received };

// The interval lines: bytes and counters since the last line.
class IntervalPrinter {
 public:
  IntervalPrinter(const SendOptions& options, std::FILE* out, Clock::time_point start)
      : enabled_(options.interval > 0.0 && !options.json),
        json_(options.json_stream),
        interval_(options.interval),
        out_(out),
        start_(start),
        next_(start + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(options.interval))),
        sent_(!options.reverse),
        received_(options.reverse || options.bidir) {
    if (enabled_ && !json_) std::fputs(interval_header().c_str(), out_);
  }

  // `bytes`: sent and received so far.
  void poll(Clock::time_point now, const std::array<std::uint64_t, 2>& bytes,
            const Connection& connection, RttSummary& rtt) {
    if (now >= next_) emit(now, bytes, connection, rtt);
  }

  // The last, partial interval, as iperf3 prints it (unless it is too short to mean much).
  void finish(Clock::time_point now, const std::array<std::uint64_t, 2>& bytes,
              const Connection& connection, RttSummary& rtt) {
    if (seconds_between(start_, now) - last_seconds_ >= 0.1 * interval_) {
      emit(now, bytes, connection, rtt);
    }
  }

 private:
  void emit(Clock::time_point now, const std::array<std::uint64_t, 2>& bytes,
            const Connection& connection, RttSummary& rtt) {
    const auto stats = connection.stats();
    rtt.observe(stats);
    if (enabled_) {
      IntervalSample sample;
      sample.id = 1;
      sample.start = last_seconds_;
      sample.end = seconds_between(start_, now);
      sample.retransmitted_bytes = stats.stream_bytes_retransmitted - last_retransmitted_;
      sample.packets_lost = stats.packets_lost - last_lost_;
      sample.cwnd_bytes = stats.congestion_window;
      sample.rtt_us = std::chrono::duration<double, std::micro>(stats.smoothed_rtt).count();
      for (const Direction direction : {Direction::sent, Direction::received}) {
        const auto at = static_cast<std::size_t>(direction);
        if (!(direction == Direction::sent ? sent_ : received_)) continue;
        sample.bytes = bytes[at] - last_bytes_[at];
        // Both directions at once: say which line is which, as iperf3 --bidir does.
        sample.tag = sent_ && received_ ? (direction == Direction::sent ? "TX" : "RX") : "";
        sample.direction = direction == Direction::sent ? "sent" : "received";
        if (json_) {
          std::fprintf(out_, "%s\n", format_interval_event(sample).c_str());
        } else {
          std::fputs(format_interval(sample).c_str(), out_);
        }
      }
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
  bool json_;  // --json-stream: interval events instead of lines
  double interval_;
  std::FILE* out_;
  Clock::time_point start_;
  Clock::time_point next_;
  bool sent_;
  bool received_;
  double last_seconds_ = 0.0;
  std::array<std::uint64_t, 2> last_bytes_{};
  std::uint64_t last_retransmitted_ = 0;
  std::uint64_t last_lost_ = 0;
};

std::string describe(const StepFailure& failure, const Stream& stream,
                     const Connection& connection) {
  if (!failure.local_error.empty()) return failure.local_error;
  if (failure.status == SendStatus::closed) {
    return "the connection ended: " + tools::describe(connection.close_reason());
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
  const bool sends = !options.reverse;
  const bool receives = options.reverse || options.bidir;
  // A file keeps one stream busy: more streams than files would idle.
  const std::uint64_t stream_count =
      files ? std::min<std::uint64_t>(options.streams, files->size()) : options.streams;
  auto started = open_connection(
      options, [&](const transport::SocketAddress& peer) { return node_options(options, peer); });
  if (!started) return started.error();
  const std::string& io = started->io;
  const transport::SocketAddress& peer = started->peer;
  Connection& connection = started->connection;
  auto opened =
      open_streams(connection, (sends ? stream_count : 0) + (receives ? options.streams : 0));
  if (!opened) {
    std::fprintf(stderr, "dwcp-send: %s\n", opened.error().c_str());
    connection.abort();
    return kExitTransfer;
  }
  const bool timed = options.bytes == 0 && !files;
  // -n is the total of a direction: the first streams carry the remainder.
  auto budget = [&](std::size_t i) {
    return options.bytes / options.streams + (i < options.bytes % options.streams ? 1 : 0);
  };
  std::vector<StreamState> streams;
  std::size_t next_stream = 0;
  for (std::size_t i = 0; sends && i < stream_count; ++i) {
    const Stream& stream = (*opened)[next_stream++];
    if (files) {
      streams.push_back(StreamState{stream, StreamSender(stream, *files)});
    } else {
      streams.push_back(StreamState{stream, StreamSender(stream, budget(i), timed)});
    }
  }
  // The streams that carry the other way, and what they ask the server for.
  ReceiveTarget target;
  target.pattern_only = true;
  std::vector<ReverseStream> reverse;
  for (std::size_t i = 0; receives && i < options.streams; ++i) {
    StreamHeader request;
    request.kind = ContentKind::reverse;
    ReverseRequest wanted;
    if (timed) {
      // The server's own bound; the stop frame at our deadline normally comes first.
      wanted.duration_ms = static_cast<std::uint32_t>(
          std::clamp(options.seconds * 1000.0, 1.0, static_cast<double>(kMaxRequestMillis)));
    } else {
      request.size = budget(i);
    }
    wanted.message_size = static_cast<std::uint32_t>(options.message_size);
    wanted.congestion = options.congestion;
    wanted.rate_bits = options.rate_bits;
    request.reverse = wanted;
    reverse.emplace_back((*opened)[next_stream++], request, target, 1);
  }

  const double cpu_start = process_cpu_seconds();
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(timed ? options.seconds : 24.0 * 3600.0));
  if (options.json_stream) {
    std::fprintf(out, "%s\n", format_start_event(1, peer.to_string(), io).c_str());
  } else if (!options.json && options.interval > 0.0) {
    std::fprintf(out, "io: %s\n", io.c_str());
  }
  IntervalPrinter intervals(options, out, start);
  TransferReport report;
  report.role = "sender";
  report.id = 1;
  report.peer = peer.to_string();
  report.congestion = to_string(options.congestion);
  report.streams = streams.size();
  report.io = io;
  TransferReport back;  // what the server sent us
  back.role = "receiver";
  back.reverse = true;
  back.id = 1;
  back.peer = report.peer;
  back.congestion = report.congestion;
  back.streams = reverse.size();
  back.io = io;

  std::uint64_t total = 0;
  std::uint64_t received = 0;
  Clock::time_point last_received = start;
  std::string failure;
  bool local_failure = false;
  bool stopping = false;
  Clock::time_point last_progress = start;
  int idle_passes = 0;
  SendBacklog backlog;
  for (;;) {
    // Before the pass: a message that arrives during it ends the wait below at once.
    const auto seen = connection.events();
    const Clock::time_point now = Clock::now();
    intervals.poll(now, {total, received}, connection, report.rtt);
    if (!stopping && (stop.load(std::memory_order_relaxed) || (timed && now >= deadline))) {
      // Every stream still ends its unit with a trailer, so the receiver can verify; the
      // server does the same for ours when the stop frame arrives.
      stopping = true;
      for (StreamState& s : streams) s.sender.stop();
      for (ReverseStream& r : reverse) r.stop();
    }
    bool all_sent = true;
    bool progressed = false;
    const bool may_write = backlog.may_write(connection, total, now);
    for (StreamState& s : streams) {
      s.sender.collect_verdicts();
      if (s.sender.sending_done()) continue;
      all_sent = false;
      if (!may_write) continue;
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
    bool all_received = true;
    for (ReverseStream& r : reverse) {
      const std::uint64_t read = r.step();
      if (read != 0) {
        received += read;
        last_received = now;
        progressed = true;
      }
      if (r.failure()) {
        failure = "stream " + std::to_string(r.id()) + ": " +
                  (*r.failure() == SendStatus::closed
                       ? "the connection ended: " + describe(connection.close_reason())
                       : std::string(to_string(*r.failure())));
        break;
      }
      all_received = all_received && r.done();
    }
    if (!failure.empty()) break;
    bool all_verdicts = true;
    for (StreamState& s : streams) all_verdicts = all_verdicts && s.sender.verdicts_done();
    if (all_sent && all_received && all_verdicts) break;
    if (connection.status() == ConnectionStatus::closed) {
      failure = "the connection ended: " + describe(connection.close_reason());
      break;
    }
    if (all_sent && !progressed) {
      // Everything is queued: what is left comes from the other side (verdicts, the
      // server's pattern and trailers), and wakes the wait. A minute without any of it
      // ends the run.
      if (now - last_progress > kCloseTimeout) {
        failure = all_verdicts ? "the receiver did not end every stream within 60 s"
                               : "the receiver did not confirm every stream within 60 s";
        break;
      }
      connection.wait(seen, 10ms);
      continue;
    }
    last_progress = now;
    if (connection.status() == ConnectionStatus::closed) {
      failure = "the connection ended: " + describe(connection.close_reason());
      break;
    }
    if (progressed) {
      idle_passes = 0;
    } else if (++idle_passes < kYieldPasses) {
      std::this_thread::yield();
    } else {
      // Every queue is full (or empty): the I/O thread needs the CPU more than we do, and
      // says when half a queue is free again (or a message or verdict comes in).
      connection.wait(seen, 10ms);
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
    intervals.poll(Clock::now(), {total, received}, connection, report.rtt);
    connection.wait(seen, 10ms);
  }
  const Clock::time_point end = Clock::now();
  intervals.finish(end, {total, received}, connection, report.rtt);
  const double cpu_seconds = process_cpu_seconds() - cpu_start;
  report.seconds = seconds_between(start, end);
  report.cpu_seconds = cpu_seconds;
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
  back.rtt = report.rtt;
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

  // The reverse direction, verified here as dwcp-recv verifies: every stream's one unit.
  std::vector<std::string> reverse_failures;
  ReceiveTally tally;
  bool all_ended = true;
  for (ReverseStream& r : reverse) {
    ReceiveTally one;
    r.finish(one);
    all_ended = all_ended && r.done();
    if (const auto& refusal = r.refusal()) {
      reverse_failures.push_back("stream " + std::to_string(r.id()) +
                                 ": the receiver says: " + std::string(to_string(refusal->result)));
    } else if (one.units != 1 || one.verified_units != 1 || one.malformed_frames != 0) {
      reverse_failures.push_back(
          "stream " + std::to_string(r.id()) +
          (one.verification_errors != 0 ? ": pattern mismatch" : ": not received in full"));
    }
    tally.messages += one.messages;
    tally.verification_errors += one.verification_errors;
    tally.units += one.units;
    tally.verified_units += one.verified_units;
    tally.malformed_frames += one.malformed_frames;
  }
  back.seconds = seconds_between(start, received != 0 ? last_received : end);
  back.cpu_seconds = cpu_seconds;
  back.cpu_hz = report.cpu_hz;
  back.bytes = received;
  back.messages = tally.messages;
  back.verification_errors = tally.verification_errors;
  back.malformed_frames = tally.malformed_frames;
  back.verified = all_ended && reverse_failures.empty() && !reverse.empty();
  back.take_stats(connection.stats());
  back.complete = report.complete && all_ended;
  back.close_reason = report.close_reason;
  if (back.close_reason.empty() && !all_ended) back.close_reason = "a stream ended early";
  if (connection.status() != ConnectionStatus::closed) connection.abort();

  std::vector<const TransferReport*> reports;
  if (sends) reports.push_back(&report);
  if (receives) reports.push_back(&back);
  for (const TransferReport* r : reports) {
    if (options.json) {
      std::fprintf(out, "%s\n", format_json(*r).c_str());
    } else if (options.json_stream) {
      std::fprintf(out, "%s\n", format_end_event(*r).c_str());
    } else {
      std::fputs(format_summary(*r).c_str(), out);
    }
  }
  std::fflush(out);
  if (!report.complete) {
    std::fprintf(stderr, "dwcp-send: transfer %s %s failed: %s\n", sends ? "to" : "from",
                 report.peer.c_str(), report.close_reason.c_str());
    return local_failure ? kExitLocalFile : kExitTransfer;
  }
  if (sends && !report.verified) {
    std::string why = unit_failures.empty() ? "not every stream was confirmed" : unit_failures[0];
    if (unit_failures.size() > 1) {
      why += " (and " + std::to_string(unit_failures.size() - 1) + " more)";
    }
    std::fprintf(stderr, "dwcp-send: transfer to %s not verified: %s\n", report.peer.c_str(),
                 why.c_str());
    return kExitTransfer;
  }
  if (receives && !back.verified) {
    std::string why =
        reverse_failures.empty() ? "not every stream was received" : reverse_failures[0];
    if (reverse_failures.size() > 1) {
      why += " (and " + std::to_string(reverse_failures.size() - 1) + " more)";
    }
    std::fprintf(stderr, "dwcp-send: transfer from %s not verified: %s\n", back.peer.c_str(),
                 why.c_str());
    return kExitTransfer;
  }
  return kExitOk;
}

}  // namespace dwcp::tools
