#include "tools/common/transfer_report.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <limits>

#include "tools/common/content_digest.h"
#include "tools/common/json_writer.h"

using namespace dwcp::tools;

TEST_CASE("JSON strings are escaped and non-finite numbers become null") {
  CHECK(json_quote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
  JsonObject json;
  json.add("n", std::uint64_t{3})
      .add("x", 0.5)
      .add("bad", std::numeric_limits<double>::infinity())
      .add("t", true)
      .add("s", "v");
  CHECK(json.str() == "{\"n\":3,\"x\":0.5,\"bad\":null,\"t\":true,\"s\":\"v\"}");
}

TEST_CASE("sizes print in binary units") {
  CHECK(format_bytes(17) == "17 B");
  CHECK(format_bytes(1536) == "1.50 KiB");
  CHECK(format_bytes(64.0 * 1024 * 1024) == "64.00 MiB");
}

TEST_CASE("a report derives rates and carries every documented JSON field") {
  TransferReport r;
  r.role = "receiver";
  r.id = 2;
  r.peer = "127.0.0.1:1";
  r.streams = 4;
  r.seconds = 2.0;
  r.bytes = 250'000'000;
  r.cpu_seconds = 1.0;
  r.complete = true;
  CHECK(r.bits_per_second() == doctest::Approx(1e9));
  CHECK(r.cpu_percent() == doctest::Approx(50.0));
  CHECK(r.cpu_seconds_per_gb() == doctest::Approx(4.0));
  CHECK(r.cpu_cycles_per_byte() == doctest::Approx(0.0));  // clock unknown
  r.cpu_hz = 2e9;
  CHECK(r.cpu_cycles_per_byte() == doctest::Approx(8.0));
  const std::string json = format_json(r);
  for (const char* field : {"role",
                            "id",
                            "peer",
                            "congestion",
                            "streams",
                            "seconds",
                            "bytes",
                            "messages",
                            "bits_per_second",
                            "verification_errors",
                            "files",
                            "files_written",
                            "verified",
                            "xxh3_128",
                            "rejected_paths",
                            "malformed_frames",
                            "retransmitted_bytes",
                            "packets_lost",
                            "spurious_losses",
                            "packets_sent",
                            "packets_received",
                            "rtt_min_us",
                            "rtt_avg_us",
                            "rtt_max_us",
                            "cwnd_bytes",
                            "cpu_seconds",
                            "cpu_percent",
                            "cpu_seconds_per_gb",
                            "complete",
                            "close_reason",
                            "reverse",
                            "io"}) {
    std::string key = "\"";
    key += field;
    key += "\":";
    CHECK_MESSAGE(json.find(key) != std::string::npos, field);
  }
  const std::string text = format_summary(r);
  CHECK(text.find("1.00 Gbit/s") != std::string::npos);
  CHECK(text.find("complete") != std::string::npos);
  IntervalSample s;
  s.id = 2;
  s.end = 1.0;
  s.bytes = 125'000'000;
  CHECK(format_interval(s).find("1.00 Gbit/s") != std::string::npos);
  CHECK(format_interval(s).ends_with(" us\n"));
  s.tag = "RX";  // --bidir: which direction the line counts
  CHECK(format_interval(s).ends_with(" us  RX\n"));
}

TEST_CASE("the summary gains a files line only when files moved or frames were refused") {
  TransferReport r;
  r.role = "receiver";
  r.complete = true;
  r.verified = true;
  const std::string pattern = format_summary(r);
  CHECK(std::count(pattern.begin(), pattern.end(), '\n') == 2);
  r.files = 3;
  r.files_written = 2;
  r.xxh3_128 = "0123456789abcdef0123456789abcdef";
  const std::string files = format_summary(r);
  CHECK(std::count(files.begin(), files.end(), '\n') == 3);
  CHECK(files.find("files 3 (2 written)") != std::string::npos);
  CHECK(files.find("xxh3-128 0123456789abcdef0123456789abcdef, verified") != std::string::npos);
  r.role = "sender";
  CHECK(format_summary(r).find("files 3, rejected") != std::string::npos);
  r.files = 0;
  r.xxh3_128.clear();
  r.verified = false;
  r.rejected_paths = 1;
  const std::string refused = format_summary(r);
  CHECK(refused.find("rejected paths 1") != std::string::npos);
  CHECK(refused.find("NOT VERIFIED") != std::string::npos);
  CHECK(format_json(r).find("\"verified\":false") != std::string::npos);
}

TEST_CASE("a reverse run's reports say so in text and JSON; the role stays who sent") {
  TransferReport r;
  r.role = "receiver";
  r.reverse = true;
  r.io = "mmsg+gso (probe)";
  CHECK(format_summary(r).find("receiver (reverse) ") != std::string::npos);
  const std::string json = format_json(r);
  CHECK(json.find("\"role\":\"receiver\",\"reverse\":true") != std::string::npos);
  CHECK(json.find("\"io\":\"mmsg+gso (probe)\"") != std::string::npos);
  r.reverse = false;
  CHECK(format_summary(r).find("receiver (reverse)") == std::string::npos);
  CHECK(format_json(r).find("\"reverse\":false") != std::string::npos);
}

TEST_CASE("one file's digest is its own hash; several hash their sorted list") {
  ContentDigest none;
  CHECK(none.hex().empty());
  const dwcp::simd::Hash128 a = dwcp::simd::xxh3_128(dwcp::simd::as_bytes("a"));
  const dwcp::simd::Hash128 b = dwcp::simd::xxh3_128(dwcp::simd::as_bytes("b"));
  ContentDigest one;
  one.add("x/a", a);
  CHECK(one.hex() == a.to_hex());
  ContentDigest forward;
  forward.add("x/a", a);
  forward.add("x/b", b);
  ContentDigest backward;
  backward.add("x/b", b);
  backward.add("x/a", a);
  CHECK(forward.hex() == backward.hex());
  const std::string list = a.to_hex() + "  x/a\n" + b.to_hex() + "  x/b\n";
  CHECK(forward.hex() == dwcp::simd::xxh3_128(dwcp::simd::as_bytes(list)).to_hex());
  ContentDigest swapped;  // the same hashes under each other's names
  swapped.add("x/a", b);
  swapped.add("x/b", a);
  CHECK(swapped.hex() != forward.hex());
}
