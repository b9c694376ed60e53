#include "tools/common/transfer_report.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "tools/common/json_writer.h"

namespace dwcp::tools {
namespace {

double micros(transport::Duration d) noexcept {
  return std::chrono::duration<double, std::micro>(d).count();
}

}  // namespace

void RttSummary::observe(const transport::ConnectionStats& stats) noexcept {
  if (stats.smoothed_rtt.count() <= 0) return;
  min_us = micros(stats.min_rtt);
  avg_us = micros(stats.smoothed_rtt);
  max_us = std::max(max_us, avg_us);
}

double TransferReport::bits_per_second() const noexcept {
  return seconds > 0.0 ? static_cast<double>(bytes) * 8.0 / seconds : 0.0;
}

double TransferReport::cpu_percent() const noexcept {
  return seconds > 0.0 ? 100.0 * cpu_seconds / seconds : 0.0;
}

double TransferReport::cpu_seconds_per_gb() const noexcept {
  return bytes > 0 ? cpu_seconds * 1e9 / static_cast<double>(bytes) : 0.0;
}

double TransferReport::cpu_cycles_per_byte() const noexcept {
  return bytes > 0 ? cpu_seconds * cpu_hz / static_cast<double>(bytes) : 0.0;
}

void TransferReport::take_stats(const transport::ConnectionStats& stats) {
  retransmitted_bytes = stats.stream_bytes_retransmitted;
  packets_lost = stats.packets_lost;
  spurious_losses = stats.spurious_losses;
  packets_sent = stats.packets_sent;
  packets_received = stats.packets_received;
  wire_bytes_sent = stats.bytes_sent;
  wire_bytes_received = stats.bytes_received;
  cwnd_bytes = stats.congestion_window;
  rtt.observe(stats);
}

void SyncTotals::take_stats(const transport::ConnectionStats& stats) noexcept {
  blocks_whole = stats.blocks_sent_whole;
  blocks_delta = stats.blocks_sent_delta;
  block_bytes_saved = stats.block_bytes_saved;
}

std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t unit = 0;
  while (bytes >= 1024.0 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024.0;
    ++unit;
  }
  char text[32];
  if (unit == 0) {
    std::snprintf(text, sizeof text, "%.0f %s", bytes, kUnits[unit]);
  } else {
    std::snprintf(text, sizeof text, "%.2f %s", bytes, kUnits[unit]);
  }
  return text;
}

std::string interval_header() {
  return "[ ID] Interval           Transfer     Bitrate         Retr        Lost    Cwnd        "
         "RTT\n";
}

std::string format_interval(const IntervalSample& s) {
  const double seconds = s.end - s.start;
  const double gbits = seconds > 0.0 ? static_cast<double>(s.bytes) * 8.0 / seconds / 1e9 : 0.0;
  char line[256];
  std::snprintf(
      line, sizeof line,
      "[%3llu] %6.2f-%-6.2f sec  %-11s  %6.2f Gbit/s  %-10s  %-6llu  %-10s  %.0f us%s%s\n",
      static_cast<unsigned long long>(s.id), s.start, s.end,
      format_bytes(static_cast<double>(s.bytes)).c_str(), gbits,
      format_bytes(static_cast<double>(s.retransmitted_bytes)).c_str(),
      static_cast<unsigned long long>(s.packets_lost),
      format_bytes(static_cast<double>(s.cwnd_bytes)).c_str(), s.rtt_us, *s.tag != '\0' ? "  " : "",
      s.tag);
  return line;
}

std::string format_summary(const TransferReport& r) {
  std::string status = r.complete ? "complete" : "INCOMPLETE: ";
  if (!r.complete) status += r.close_reason;
  char line[1024];
  std::snprintf(
      line, sizeof line,
      "[%3llu] %s%s %s, %llu stream%s%s%s: %.2f sec  %s  %.2f Gbit/s  %s\n"
      "      verification errors %llu, retransmitted %s, packets lost %llu (%llu spurious), "
      "rtt min/avg/max %.0f/%.0f/%.0f us, cwnd %s, cpu %.0f%% (%.2f s/GB, ~%.1f cycles/B)\n",
      static_cast<unsigned long long>(r.id), r.role.c_str(), r.reverse ? " (reverse)" : "",
      r.peer.c_str(), static_cast<unsigned long long>(r.streams), r.streams == 1 ? "" : "s",
      r.congestion.empty() ? "" : ", ", r.congestion.c_str(), r.seconds,
      format_bytes(static_cast<double>(r.bytes)).c_str(), r.bits_per_second() / 1e9, status.c_str(),
      static_cast<unsigned long long>(r.verification_errors),
      format_bytes(static_cast<double>(r.retransmitted_bytes)).c_str(),
      static_cast<unsigned long long>(r.packets_lost),
      static_cast<unsigned long long>(r.spurious_losses), r.rtt.min_us, r.rtt.avg_us, r.rtt.max_us,
      format_bytes(static_cast<double>(r.cwnd_bytes)).c_str(), r.cpu_percent(),
      r.cpu_seconds_per_gb(), r.cpu_cycles_per_byte());
  std::string summary = line;
  if (r.files != 0 || r.rejected_paths != 0 || r.malformed_frames != 0) {
    // Only the receiver writes files.
    std::string written;
    if (r.role == "receiver") written = " (" + std::to_string(r.files_written) + " written)";
    std::snprintf(line, sizeof line,
                  "      files %llu%s, rejected paths %llu, malformed frames %llu, xxh3-128 %s, "
                  "%s\n",
                  static_cast<unsigned long long>(r.files), written.c_str(),
                  static_cast<unsigned long long>(r.rejected_paths),
                  static_cast<unsigned long long>(r.malformed_frames),
                  r.xxh3_128.empty() ? "-" : r.xxh3_128.c_str(),
                  r.verified ? "verified" : "NOT VERIFIED");
    summary += line;
  }
  if (const auto& sync = r.sync) {
    std::snprintf(line, sizeof line,
                  "      sync rounds %llu (%llu verified), blocks sent %llu whole, %llu as "
                  "delta (%s saved), wire %s sent, %s received\n",
                  static_cast<unsigned long long>(sync->rounds),
                  static_cast<unsigned long long>(sync->rounds_verified),
                  static_cast<unsigned long long>(sync->blocks_whole),
                  static_cast<unsigned long long>(sync->blocks_delta),
                  format_bytes(static_cast<double>(sync->block_bytes_saved)).c_str(),
                  format_bytes(static_cast<double>(r.wire_bytes_sent)).c_str(),
                  format_bytes(static_cast<double>(r.wire_bytes_received)).c_str());
    summary += line;
  }
  return summary;
}

namespace {

std::string event(std::string_view name, const std::string& data) {
  return "{\"event\":" + json_quote(name) + ",\"data\":" + data + "}";
}

}  // namespace

std::string format_start_event(std::uint64_t id, std::string_view peer, std::string_view io) {
  JsonObject json;
  json.add("id", id).add("peer", peer).add("io", io);
  return event("start", json.str());
}

std::string format_interval_event(const IntervalSample& s) {
  const double seconds = s.end - s.start;
  const double bits_per_second = seconds > 0.0 ? static_cast<double>(s.bytes) * 8.0 / seconds : 0.0;
  JsonObject json;
  json.add("id", s.id)
      .add("start", s.start)
      .add("end", s.end)
      .add("bytes", s.bytes)
      .add("bits_per_second", bits_per_second)
      .add("retransmitted_bytes", s.retransmitted_bytes)
      .add("packets_lost", s.packets_lost)
      .add("cwnd_bytes", s.cwnd_bytes)
      .add("rtt_us", s.rtt_us)
      .add("direction", s.direction);
  return event("interval", json.str());
}

std::string format_end_event(const TransferReport& report) {
  return event("end", format_json(report));
}

std::string format_json(const TransferReport& r) {
  JsonObject json;
  json.add("role", r.role)
      .add("reverse", r.reverse)
      .add("id", r.id)
      .add("peer", r.peer)
      .add("congestion", r.congestion)
      .add("streams", r.streams)
      .add("seconds", r.seconds)
      .add("bytes", r.bytes)
      .add("messages", r.messages)
      .add("bits_per_second", r.bits_per_second())
      .add("verification_errors", r.verification_errors)
      .add("files", r.files)
      .add("files_written", r.files_written)
      .add("verified", r.verified)
      .add("xxh3_128", r.xxh3_128)
      .add("rejected_paths", r.rejected_paths)
      .add("malformed_frames", r.malformed_frames)
      .add("retransmitted_bytes", r.retransmitted_bytes)
      .add("packets_lost", r.packets_lost)
      .add("spurious_losses", r.spurious_losses)
      .add("packets_sent", r.packets_sent)
      .add("packets_received", r.packets_received)
      .add("wire_bytes_sent", r.wire_bytes_sent)
      .add("wire_bytes_received", r.wire_bytes_received)
      .add("rtt_min_us", r.rtt.min_us)
      .add("rtt_avg_us", r.rtt.avg_us)
      .add("rtt_max_us", r.rtt.max_us)
      .add("cwnd_bytes", r.cwnd_bytes)
      .add("cpu_seconds", r.cpu_seconds)
      .add("cpu_percent", r.cpu_percent())
      .add("cpu_seconds_per_gb", r.cpu_seconds_per_gb())
      .add("cpu_cycles_per_byte", r.cpu_cycles_per_byte())
      .add("complete", r.complete)
      .add("close_reason", r.close_reason)
      .add("io", r.io);
  if (const auto& sync = r.sync) {
    json.add("sync_rounds", sync->rounds)
        .add("sync_rounds_verified", sync->rounds_verified)
        .add("blocks_sent_whole", sync->blocks_whole)
        .add("blocks_sent_delta", sync->blocks_delta)
        .add("block_bytes_saved", sync->block_bytes_saved);
  }
  return json.str();
}

}  // namespace dwcp::tools
