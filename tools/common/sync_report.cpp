#include "tools/common/sync_report.h"

#include <cstdio>

#include "tools/common/json_writer.h"
#include "tools/common/transfer_report.h"

namespace dwcp::tools {

std::string format_round(const SyncRoundReport& r) {
  char line[512];
  std::snprintf(line, sizeof line,
                "[%3llu] round %-4llu %6.2f sec  %s, %llu of %llu blocks changed (%s): %llu "
                "whole, %llu delta; wire %s (%s sent, %s received)  %s\n",
                static_cast<unsigned long long>(r.id), static_cast<unsigned long long>(r.round),
                r.seconds, format_bytes(static_cast<double>(r.length)).c_str(),
                static_cast<unsigned long long>(r.blocks_changed),
                static_cast<unsigned long long>(r.blocks),
                format_bytes(static_cast<double>(r.changed_bytes)).c_str(),
                static_cast<unsigned long long>(r.blocks_whole),
                static_cast<unsigned long long>(r.blocks_delta),
                format_bytes(static_cast<double>(r.wire_bytes())).c_str(),
                format_bytes(static_cast<double>(r.wire_bytes_sent)).c_str(),
                format_bytes(static_cast<double>(r.wire_bytes_received)).c_str(),
                std::string(to_string(r.verdict)).c_str());
  return line;
}

std::string format_round_json(const SyncRoundReport& r) {
  JsonObject json;
  json.add("type", "sync_round")
      .add("id", r.id)
      .add("round", r.round)
      .add("seconds", r.seconds)
      .add("length", r.length)
      .add("blocks", r.blocks)
      .add("blocks_changed", r.blocks_changed)
      .add("changed_bytes", r.changed_bytes)
      .add("blocks_sent_whole", r.blocks_whole)
      .add("blocks_sent_delta", r.blocks_delta)
      .add("block_bytes_saved", r.block_bytes_saved)
      .add("wire_bytes", r.wire_bytes())
      .add("wire_bytes_sent", r.wire_bytes_sent)
      .add("wire_bytes_received", r.wire_bytes_received)
      .add("verdict", to_string(r.verdict))
      .add("verified", r.verdict == Verdict::verified)
      .add("xxh3_128", r.xxh3_128);
  return json.str();
}

}  // namespace dwcp::tools
