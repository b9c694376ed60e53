#include "tools/recv/client_session.h"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "tools/common/close_reason_text.h"
#include "tools/common/cpu_usage.h"
#include "tools/common/send_backlog.h"
#include "tools/common/stream_sender.h"
#include "tools/common/sync_receiver.h"

namespace dwcp::tools {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Passes that yield while the send queues are full before waiting to be told of room: a
// few, since room often comes back within a pass of the I/O thread.
constexpr int kYieldPasses = 8;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct IncomingStream {
  Stream stream;
  StreamReceiver receiver;
  bool reverse = false;                // it opened with a reverse request
  std::optional<StreamSender> sender;  // the request was taken: we send the pattern
  std::size_t message_size = 0;
  std::optional<Clock::time_point> deadline;  // a timed request's end
  std::optional<SyncReceiver> sync;           // it opened with a sync header
};

}  // namespace

ClientSession::ClientSession(std::uint64_t id, Connection connection, const RecvOptions& options,
                             SharedOutput& output, ReceiveTarget& target, std::string io)
    : id_(id),
      connection_(std::move(connection)),
      options_(options),
      output_(output),
      target_(target),
      io_(std::move(io)) {
  thread_ = std::thread([this] { run(); });
}

ClientSession::~ClientSession() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void ClientSession::join() {
  if (thread_.joinable()) thread_.join();
}

void ClientSession::run() {
  TransferReport report;  // what the client sent us
  report.role = "receiver";
  report.id = id_;
  report.peer = connection_.peer().to_string();
  report.io = io_;
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
  std::uint64_t sent = 0;  // pattern bytes of reverse streams handed to the transport
  // The controller the client asked for: set once per connection, so every reverse stream
  // must ask for the same.
  std::optional<ReverseRequest> controller;
  // The transfer's end is when its last byte arrived, not when the close handshake was over.
  Clock::time_point last_data = start;
  std::optional<Clock::time_point> reverse_done;

  if (options_.json_stream) {
    const std::scoped_lock hold(output_.lock);
    std::fprintf(output_.out, "%s\n", format_start_event(id_, report.peer, report.io).c_str());
    std::fflush(output_.out);
  } else if (!options_.json) {
    const std::scoped_lock hold(output_.lock);
    std::fprintf(output_.out, "[%3llu] accepted %s\n", static_cast<unsigned long long>(id_),
                 report.peer.c_str());
    if (print_intervals) std::fputs(interval_header().c_str(), output_.out);
    std::fflush(output_.out);
  }

  // A sync stream: its blocks into the replica, its round ends answered; a line per round.
  auto drain_sync = [&](IncomingStream& in) {
    std::uint64_t read = 0;
    for (;;) {
      if (const auto block = in.stream.peek_block()) {
        read += in.sync->consume_block(block->key, block->bytes);
        in.stream.release();
        continue;
      }
      const auto message = in.stream.peek();
      if (message.empty()) break;
      in.sync->consume(message);
      in.stream.release();
    }
    in.sync->flush();
    if (in.stream.at_end()) in.sync->stream_ended();
    for (const SyncRoundRecord& round : in.sync->take_rounds()) {
      if (options_.json) continue;
      const std::scoped_lock hold(output_.lock);
      std::fprintf(output_.out,
                   "[%3llu] sync '%s' round %llu: %llu blocks (%s) written, replica %s, %s\n",
                   static_cast<unsigned long long>(id_), in.sync->name().c_str(),
                   static_cast<unsigned long long>(round.round),
                   static_cast<unsigned long long>(round.blocks),
                   format_bytes(static_cast<double>(round.block_bytes)).c_str(),
                   format_bytes(static_cast<double>(round.verdict.bytes)).c_str(),
                   std::string(to_string(round.verdict.result)).c_str());
      std::fflush(output_.out);
    }
    return read;
  };

  // A reverse request: take it (a StreamSender from now on) or refuse it.
  auto start_reverse = [&](IncomingStream& in, const StreamHeader& request) {
    in.reverse = true;
    const ReverseRequest& wanted = *request.reverse;
    if (!controller) {
      const transport::Bandwidth rate = wanted.rate_bits / 8;
      // The node's own controller (bbr) is already there, with what it learnt from the
      // handshake and the requests: only another one replaces it.
      const bool same = wanted.congestion == transport::CongestionAlgorithm::bbr;
      if (!same && !connection_.set_congestion(wanted.congestion, rate)) {
        in.receiver.refuse_request(Verdict::refused);
        return;
      }
      controller = wanted;
    } else if (controller->congestion != wanted.congestion ||
               controller->rate_bits != wanted.rate_bits) {
      std::fprintf(stderr, "dwcp-recv: [%3llu] stream %llu: refused: another controller\n",
                   static_cast<unsigned long long>(id_),
                   static_cast<unsigned long long>(in.stream.id()));
      in.receiver.refuse_request(Verdict::refused);
      return;
    }
    const bool timed = !request.size;
    in.sender.emplace(in.stream, request.size.value_or(0), timed);
    in.message_size = wanted.message_size;
    if (timed) in.deadline = Clock::now() + std::chrono::milliseconds(wanted.duration_ms);
  };

  // Reads and verifies everything that waits; the bytes read.
  auto drain = [&] {
    std::uint64_t read = 0;
    while (auto s = connection_.accept_stream()) {
      streams.try_emplace(s->id(), IncomingStream{*s, StreamReceiver(*s, target_, id_), false,
                                                  std::nullopt, 0, std::nullopt, std::nullopt});
    }
    for (auto& [stream_id, in] : streams) {
      if (in.sender) {
        in.sender->collect_verdicts();
        continue;
      }
      if (!in.sync) {
        for (;;) {
          if (in.stream.peek_block()) {
            in.receiver.consume_block();
            in.stream.release();
            continue;
          }
          const auto message = in.stream.peek();
          if (message.empty()) break;
          read += in.receiver.consume(message);
          in.stream.release();
          if (const auto& request = in.receiver.reverse_request(); request && !in.reverse) {
            start_reverse(in, *request);
            if (in.sender) in.sender->collect_verdicts();
            break;
          }
          if (const auto& header = in.receiver.sync_request()) {
            in.sync.emplace(in.stream, *header, target_.sync_fd, id_);
            break;
          }
        }
        in.receiver.flush_verdicts();
      }
      if (in.sync) read += drain_sync(in);
    }
    return read;
  };

  // One message on every reverse stream that has one to send: whether any went out, and
  // whether any stream still sends. None while the connection is far enough behind.
  SendBacklog backlog;
  auto pump = [&](Clock::time_point now, bool& sending) {
    bool progressed = false;
    sending = false;
    const bool may_write = backlog.may_write(connection_, sent, now);
    for (auto& [stream_id, in] : streams) {
      if (!in.sender || in.sender->sending_done()) continue;
      // The client went away from this stream, or its time is up: the trailer goes next.
      if ((in.deadline && now >= *in.deadline) || in.stream.at_end()) in.sender->stop();
      if (!may_write) {
        sending = true;
        continue;
      }
      const auto step = in.sender->step(in.message_size);
      if (!step) {
        // The connection is closing; the summary says so.
        in.sender->stop();
        continue;
      }
      sent += step->bytes;
      progressed = progressed || step->progressed;
      sending = sending || !in.sender->sending_done();
    }
    return progressed;
  };

  // One interval line (when they are on) and the RTT snapshot.
  auto emit_interval = [&](Clock::time_point now) {
    const auto stats = connection_.stats();
    report.rtt.observe(stats);
    const std::uint64_t moved = bytes + sent;
    if (print_intervals) {
      IntervalSample sample;
      sample.id = id_;
      sample.start = last_seconds;
      sample.end = seconds_between(start, now);
      sample.bytes = moved - last_bytes;
      sample.retransmitted_bytes = stats.stream_bytes_retransmitted - last_retransmitted;
      sample.packets_lost = stats.packets_lost - last_lost;
      sample.cwnd_bytes = stats.congestion_window;
      sample.rtt_us = std::chrono::duration<double, std::micro>(stats.smoothed_rtt).count();
      // Data this side sent is a reverse stream's (-R, --bidir): the sum covers both.
      sample.direction = sent == 0 ? "received" : (bytes == 0 ? "sent" : "both");
      const std::scoped_lock hold(output_.lock);
      if (options_.json_stream) {
        std::fprintf(output_.out, "%s\n", format_interval_event(sample).c_str());
      } else {
        std::fputs(format_interval(sample).c_str(), output_.out);
      }
      std::fflush(output_.out);
      last_seconds = sample.end;
    }
    last_bytes = moved;
    last_retransmitted = stats.stream_bytes_retransmitted;
    last_lost = stats.packets_lost;
    while (next_interval <= now) next_interval += interval;
  };

  bool interrupted = false;
  int idle_passes = 0;
  for (;;) {
    const auto seen = connection_.events();
    const bool closed = connection_.status() == ConnectionStatus::closed;
    const std::uint64_t read = drain();
    Clock::time_point now = Clock::now();
    bool sending = false;
    const bool progressed = pump(now, sending);
    now = Clock::now();
    if (read != 0 || progressed) last_data = now;
    bytes += read;
    if (!reverse_done && controller) {
      bool all = true;
      for (const auto& [stream_id, in] : streams) {
        if (in.sender) all = all && in.sender->sending_done() && in.sender->verdicts_done();
      }
      if (all) reverse_done = now;
    }
    if (now >= next_interval) emit_interval(now);
    // Closed before this drain: nothing more can arrive.
    if (closed) break;
    if (stop_.load(std::memory_order_relaxed)) {
      interrupted = true;
      break;
    }
    if (sending) {
      // As dwcp-send does: yield a little while the queues are full, then wait for the I/O
      // thread to free half a queue (or for a message).
      if (progressed || read != 0) {
        idle_passes = 0;
      } else if (++idle_passes < kYieldPasses) {
        std::this_thread::yield();
      } else {
        connection_.wait(seen, 10ms);
      }
      continue;
    }
    connection_.wait(seen, 10ms);
  }

  // The last, partial interval, up to the last byte, as iperf3 prints it.
  if (bytes + sent > last_bytes &&
      seconds_between(start, last_data) - last_seconds >= 0.1 * options_.interval) {
    emit_interval(last_data);
  }
  const Clock::time_point end = Clock::now();
  const double cpu_seconds = process_cpu_seconds() - cpu_start;
  const auto stats = connection_.stats();
  const auto reason = connection_.close_reason();
  std::string connection_problem;
  if (interrupted) {
    connection_problem = "interrupted";
    connection_.abort();
  } else if (!reason || reason->error_code != 0 || reason->idle_timeout) {
    connection_problem = describe(reason);
  }

  bool all_ended = true;
  ReceiveTally tally;
  std::uint64_t sync_streams = 0;
  std::uint64_t forward_streams = 0;
  TransferReport back;  // what we sent the client: a reverse run
  back.role = "sender";
  back.reverse = true;
  back.id = id_;
  back.peer = report.peer;
  back.io = io_;
  if (controller) back.congestion = to_string(controller->congestion);
  bool reverse_finished = true;
  std::uint64_t units = 0;
  std::uint64_t verified_units = 0;
  for (auto& [stream_id, in] : streams) {
    if (in.reverse) {
      ++back.streams;
      ReceiveTally refused;  // a refused request counts as a unit that did not verify
      in.receiver.finish(refused);
      units += refused.units;
      back.verification_errors += refused.units;
      if (!in.sender) continue;
      back.messages += in.sender->messages();
      back.verification_errors += in.sender->failed_units();
      units += in.sender->units();
      verified_units += in.sender->verified_units();
      reverse_finished =
          reverse_finished && in.sender->sending_done() && in.sender->verdicts_done();
      continue;
    }
    ++forward_streams;
    in.receiver.finish(tally);
    if (in.sync) {
      in.sync->finish(tally);
      ++sync_streams;
    }
    all_ended = all_ended && in.stream.at_end();
  }

  std::vector<TransferReport*> reports;
  if (forward_streams != 0 || back.streams == 0) {
    report.seconds = seconds_between(start, bytes != 0 ? last_data : end);
    report.cpu_seconds = cpu_seconds;
    report.cpu_hz = cpu_clock_hz();
    report.bytes = bytes;
    report.streams = forward_streams;
    report.messages = tally.messages;
    report.verification_errors = tally.verification_errors;
    report.files = tally.files;
    report.files_written = tally.files_written;
    report.rejected_paths = tally.rejected_paths;
    report.malformed_frames = tally.malformed_frames;
    report.xxh3_128 = tally.digest.hex();
    report.verified = all_ended && tally.units != 0 && tally.verified_units == tally.units &&
                      tally.malformed_frames == 0 && tally.rejected_paths == 0;
    report.take_stats(stats);
    if (sync_streams != 0) {
      SyncTotals totals;
      totals.take_stats(stats);
      totals.rounds = tally.sync_rounds;
      totals.rounds_verified = tally.sync_rounds_verified;
      report.sync = totals;
    }
    report.close_reason = connection_problem;
    if (report.close_reason.empty() && !all_ended) {
      report.close_reason = "a stream closed before its end";
    }
    report.complete = report.close_reason.empty();
    reports.push_back(&report);
  }
  if (back.streams != 0) {
    // Start to the last verdict: the data sender's time includes the drain, as dwcp-send's.
    back.seconds = seconds_between(start, reverse_done.value_or(end));
    back.cpu_seconds = cpu_seconds;
    back.cpu_hz = cpu_clock_hz();
    back.bytes = sent;
    back.verified = units != 0 && verified_units == units && back.verification_errors == 0;
    back.take_stats(stats);
    back.close_reason = connection_problem;
    if (back.close_reason.empty() && !reverse_finished) {
      back.close_reason = "the client did not confirm every stream";
    }
    back.complete = back.close_reason.empty();
    reports.push_back(&back);
  }
  {
    const std::scoped_lock hold(output_.lock);
    for (const TransferReport* r : reports) {
      if (options_.json) {
        std::fprintf(output_.out, "%s\n", format_json(*r).c_str());
      } else if (options_.json_stream) {
        std::fprintf(output_.out, "%s\n", format_end_event(*r).c_str());
      } else {
        std::fputs(format_summary(*r).c_str(), output_.out);
      }
      failed_ = failed_ || !r->complete || r->verification_errors != 0 || !r->verified;
    }
    std::fflush(output_.out);
  }
  finished_.store(true, std::memory_order_release);
}

}  // namespace dwcp::tools
