#include "tools/common/transfer_report.h"

#include <doctest/doctest.h>

#include <limits>

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
                            "close_reason"}) {
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
}
