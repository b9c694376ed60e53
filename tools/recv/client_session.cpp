#include "tools/recv/client_session.h"

#include <chrono>
#include <map>
#include <string>
#include <utility>

#include "tools/common/cpu_usage.h"

namespace dwcp::tools {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct IncomingStream {
  Stream stream;
  StreamReceiver receiver;
};

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

}  // namespace

ClientSession::ClientSession(std::uint64_t id, Connection connection, const RecvOptions& options,
                             SharedOutput& output, ReceiveTarget& target)
    : id_(id),
      connection_(std::move(connection)),
      options_(options),
      output_(output),
      target_(target) {
  thread_ = std::thread([this] { run(); });
}

ClientSession::~ClientSession() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

const TransferReport& ClientSession::join() {
  if (thread_.joinable()) thread_.join();
  return report_;
}

void ClientSession::run() {
  report_.role = "receiver";
  report_.id = id_;
  report_.peer = connection_.peer().to_string();
  const bool print_intervals = options_.interval > 0.0 && !options_.json;
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(print_intervals ? options_.interval : 0.1));
  const Clock::time_point start = Clock::now();
  const double cpu_start = process_cpu_seconds();
  Clock::time_point next_interval = start + interval;
  double last_seconds = 0.0;
  std::uint64_t last_bytes = 0;
  std::uint64_t last_retransmitted = 0;
  std::uint64_t last_lost = 0;
  std::map<std::uint64_t, IncomingStream> streams;
  std::uint64_t bytes = 0;
  // The transfer's end is when its last byte arrived, not when the close handshake was over.
  Clock::time_point last_data = start;

  if (!options_.json) {
    const std::scoped_lock hold(output_.lock);
    std::fprintf(output_.out, "[%3llu] accepted %s\n", static_cast<unsigned long long>(id_),
                 report_.peer.c_str());
    if (print_intervals) std::fputs(interval_header().c_str(), output_.out);
    std::fflush(output_.out);
  }

  // Reads and verifies everything that waits; the bytes read.
  auto drain = [&] {
    std::uint64_t read = 0;
    while (auto s = connection_.accept_stream()) {
      streams.try_emplace(s->id(), IncomingStream{*s, StreamReceiver(*s, target_, id_)});
    }
    for (auto& [stream_id, in] : streams) {
      for (auto message = in.stream.peek(); !message.empty(); message = in.stream.peek()) {
        read += in.receiver.consume(message);
        in.stream.release();
      }
      in.receiver.flush_verdicts();
    }
    return read;
  };

  // One interval line (when they are on) and the RTT snapshot.
  auto emit_interval = [&](Clock::time_point now) {
    const auto stats = connection_.stats();
    report_.rtt.observe(stats);
    if (print_intervals) {
      IntervalSample sample;
      sample.id = id_;
      sample.start = last_seconds;
      sample.end = seconds_between(start, now);
      sample.bytes = bytes - last_bytes;
      sample.retransmitted_bytes = stats.stream_bytes_retransmitted - last_retransmitted;
      sample.packets_lost = stats.packets_lost - last_lost;
      sample.cwnd_bytes = stats.congestion_window;
      sample.rtt_us = std::chrono::duration<double, std::micro>(stats.smoothed_rtt).count();
      const std::scoped_lock hold(output_.lock);
      std::fputs(format_interval(sample).c_str(), output_.out);
      std::fflush(output_.out);
      last_seconds = sample.end;
    }
    last_bytes = bytes;
    last_retransmitted = stats.stream_bytes_retransmitted;
    last_lost = stats.packets_lost;
    while (next_interval <= now) next_interval += interval;
  };

  bool interrupted = false;
  for (;;) {
    const auto seen = connection_.events();
    const bool closed = connection_.status() == ConnectionStatus::closed;
    const std::uint64_t read = drain();
    const Clock::time_point now = Clock::now();
    if (read != 0) {
      bytes += read;
      last_data = now;
    }
    if (now >= next_interval) emit_interval(now);
    // Closed before this drain: nothing more can arrive.
    if (closed) break;
    if (stop_.load(std::memory_order_relaxed)) {
      interrupted = true;
      break;
    }
    connection_.wait(seen, 10ms);
  }

  // The last, partial interval, up to the last byte, as iperf3 prints it.
  if (bytes > last_bytes &&
      seconds_between(start, last_data) - last_seconds >= 0.1 * options_.interval) {
    emit_interval(last_data);
  }
  report_.seconds = seconds_between(start, bytes != 0 ? last_data : Clock::now());
  report_.cpu_seconds = process_cpu_seconds() - cpu_start;
  report_.cpu_hz = cpu_clock_hz();
  report_.bytes = bytes;
  report_.streams = streams.size();
  bool all_ended = true;
  ReceiveTally tally;
  for (auto& [stream_id, in] : streams) {
    in.receiver.finish(tally);
    all_ended = all_ended && in.stream.at_end();
  }
  report_.messages = tally.messages;
  report_.verification_errors = tally.verification_errors;
  report_.files = tally.files;
  report_.files_written = tally.files_written;
  report_.rejected_paths = tally.rejected_paths;
  report_.malformed_frames = tally.malformed_frames;
  report_.xxh3_128 = tally.digest.hex();
  report_.verified = all_ended && tally.units != 0 && tally.verified_units == tally.units &&
                     tally.malformed_frames == 0 && tally.rejected_paths == 0;
  report_.take_stats(connection_.stats());
  const auto reason = connection_.close_reason();
  if (interrupted) {
    report_.close_reason = "interrupted";
    connection_.abort();
  } else if (!reason || reason->error_code != 0 || reason->idle_timeout) {
    report_.close_reason = describe(reason);
  } else if (!all_ended) {
    report_.close_reason = "a stream closed before its end";
  }
  report_.complete = report_.close_reason.empty();
  {
    const std::scoped_lock hold(output_.lock);
    if (options_.json) {
      std::fprintf(output_.out, "%s\n", format_json(report_).c_str());
    } else {
      std::fputs(format_summary(report_).c_str(), output_.out);
    }
    std::fflush(output_.out);
  }
  finished_.store(true, std::memory_order_release);
}

}  // namespace dwcp::tools
