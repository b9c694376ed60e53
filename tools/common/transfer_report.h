// What dwcp-send and dwcp-recv report: iperf3-style interval lines, a summary per
// connection, and the same summary as one JSON object (docs/tools.md lists the fields).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "transport/connection.h"

namespace dwcp::tools {

// One interval of a transfer: the bytes moved in it and the connection's state at its end.
struct IntervalSample {
  std::uint64_t id = 0;  // the client's number (dwcp-recv) or 1 (dwcp-send)
  double start = 0.0;    // seconds since the transfer started
  double end = 0.0;
  std::uint64_t bytes = 0;
  std::uint64_t retransmitted_bytes = 0;  // in this interval
  std::uint64_t packets_lost = 0;         // in this interval
  std::uint64_t cwnd_bytes = 0;
  double rtt_us = 0.0;  // smoothed
  // With both directions at once (--bidir): "TX" or "RX" at the end of the line.
  const char* tag = "";
  // --json-stream: "sent", "received" or "both" (dwcp-recv with --bidir), from this
  // program's side.
  const char* direction = "sent";
};

// RTT over a connection's life: the transport's minimum, its smoothed value at the end,
// and the largest smoothed value seen in the snapshots taken.
struct RttSummary {
  double min_us = 0.0;
  double avg_us = 0.0;
  double max_us = 0.0;

  void observe(const transport::ConnectionStats& stats) noexcept;
};

// A sync's figures over the whole connection (dwcp-send --sync, dwcp-recv --sync-dir).
struct SyncTotals {
  std::uint64_t rounds = 0;             // rounds ended
  std::uint64_t rounds_verified = 0;    // of those, verified
  std::uint64_t blocks_whole = 0;       // versioned blocks sent whole (resends included)
  std::uint64_t blocks_delta = 0;       // ... and as XOR deltas
  std::uint64_t block_bytes_saved = 0;  // block bytes the deltas did not send

  // Copies the connection's block counters.
  void take_stats(const transport::ConnectionStats& stats) noexcept;
};

struct TransferReport {
  std::string role;  // "sender" or "receiver"
  // The data went from the server (dwcp-recv) to the client (dwcp-send -R, --bidir).
  bool reverse = false;
  std::string io;  // the I/O backend in use and why (Node::backend())
  std::uint64_t id = 0;
  std::string peer;        // "127.0.0.1:5301"
  std::string congestion;  // the sender's controller; empty at the receiver
  std::uint64_t streams = 0;
  double seconds = 0.0;
  std::uint64_t bytes = 0;     // sent (accepted by the transport) or received and verified
  std::uint64_t messages = 0;  // messages those bytes came in
  // Receiver: pattern messages that did not match, and files whose XXH3-128 or size did
  // not; sender: units the receiver's verdicts failed.
  std::uint64_t verification_errors = 0;
  std::uint64_t files = 0;             // files (stdin counts as one) sent, or received in full
  std::uint64_t files_written = 0;     // receiver: renamed into place under --output, or to stdout
  bool verified = false;               // every stream's content was verified at the receiver
  std::string xxh3_128;                // ContentDigest::hex() of the files; "" for the pattern
  std::uint64_t rejected_paths = 0;    // receiver: files refused for their path
  std::uint64_t malformed_frames = 0;  // receiver: headers, trailers out of order or undecodable
  std::uint64_t retransmitted_bytes = 0;
  std::uint64_t packets_lost = 0;
  std::uint64_t spurious_losses = 0;
  std::uint64_t packets_sent = 0;
  std::uint64_t packets_received = 0;
  std::uint64_t wire_bytes_sent = 0;  // UDP payload of this side's packets, all of them
  std::uint64_t wire_bytes_received = 0;
  RttSummary rtt;
  std::uint64_t cwnd_bytes = 0;
  double cpu_seconds = 0.0;        // of the whole process over `seconds`
  double cpu_hz = 0.0;             // the CPU clock (cpu_clock_hz()); 0: unknown
  bool complete = false;           // the connection closed gracefully with every byte delivered
  std::string close_reason;        // empty when complete
  std::optional<SyncTotals> sync;  // a sync: one more summary line, more JSON fields

  [[nodiscard]] double bits_per_second() const noexcept;
  [[nodiscard]] double cpu_percent() const noexcept;
  [[nodiscard]] double cpu_seconds_per_gb() const noexcept;
  // Estimated from cpu_seconds and cpu_hz; 0 when either is unknown.
  [[nodiscard]] double cpu_cycles_per_byte() const noexcept;
  // Copies the connection's counters (not bytes, messages or seconds).
  void take_stats(const transport::ConnectionStats& stats);
};

// "1.50 GiB", "512 KiB", "17 B".
std::string format_bytes(double bytes);
// The column titles above interval lines.
std::string interval_header();
// "[  1]   0.00-1.00   sec  2.10 GiB  18.04 Gbit/s  retr 0 B  lost 0  cwnd 2.00 MiB  rtt 52 us"
std::string format_interval(const IntervalSample& sample);
// Two lines (three when files moved or frames were refused), ending in a newline.
std::string format_summary(const TransferReport& report);
// One JSON object, one line, no newline.
std::string format_json(const TransferReport& report);

// --json-stream: one event per line, {"event": NAME, "data": OBJECT}, no newline.
// "start": a transfer began (id, peer, io); "interval": an interval line's fields;
// "end": the summary, as format_json().
std::string format_start_event(std::uint64_t id, std::string_view peer, std::string_view io);
std::string format_interval_event(const IntervalSample& sample);
std::string format_end_event(const TransferReport& report);

}  // namespace dwcp::tools
