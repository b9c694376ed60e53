#include "tools/common/units.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tools/common/arg_cursor.h"

using namespace dwcp::tools;

TEST_CASE("sizes take binary multiples and reject garbage") {
  CHECK(parse_size("100") == 100u);
  CHECK(parse_size("10K") == 10u * 1024);
  CHECK(parse_size("64M") == 64u << 20);
  CHECK(parse_size("1G") == std::uint64_t{1} << 30);
  CHECK(parse_size("1.5KiB") == 1536u);
  CHECK(parse_size("2T") == std::uint64_t{2} << 40);
  CHECK_FALSE(parse_size("").has_value());
  CHECK_FALSE(parse_size("-1").has_value());
  CHECK_FALSE(parse_size("10X").has_value());
  CHECK_FALSE(parse_size("nan").has_value());
  CHECK_FALSE(parse_size("inf").has_value());
  CHECK_FALSE(parse_size("1e30").has_value());
  CHECK(parse_size("10X").error().find("'10X'") != std::string::npos);
}

TEST_CASE("rates take decimal multiples of bit/s") {
  CHECK(parse_rate("100") == 100u);
  CHECK(parse_rate("10k") == 10'000u);
  CHECK(parse_rate("100M") == 100'000'000u);
  CHECK(parse_rate("2.5G") == 2'500'000'000u);
  CHECK(parse_rate("1Gbit/s") == 1'000'000'000u);
  CHECK(parse_rate("1Mbps") == 1'000'000u);
  CHECK_FALSE(parse_rate("1MB").has_value());
  CHECK_FALSE(parse_rate("fast").has_value());
}

TEST_CASE("seconds, ports and counts are bounded") {
  CHECK(parse_seconds("2.5") == doctest::Approx(2.5));
  CHECK(parse_seconds("3s") == doctest::Approx(3.0));
  CHECK_FALSE(parse_seconds("3m").has_value());
  CHECK_FALSE(parse_seconds("100000").has_value());
  CHECK(parse_port("0") == 0);
  CHECK(parse_port("65535") == 65535);
  CHECK_FALSE(parse_port("65536").has_value());
  CHECK_FALSE(parse_port("80a").has_value());
  CHECK_FALSE(parse_port("-1").has_value());
  CHECK(parse_count("4", 1, 8) == 4u);
  CHECK_FALSE(parse_count("0", 1, 8).has_value());
  CHECK_FALSE(parse_count("9", 1, 8).has_value());
}

TEST_CASE("the cursor reads separate and inline values") {
  const std::vector<std::string_view> args{"-c", "host", "--port=80", "--json", "-t"};
  ArgCursor cursor(args);
  CHECK(cursor.next() == "-c");
  CHECK(cursor.value() == "host");
  CHECK(cursor.next() == "--port");
  CHECK(cursor.has_inline_value());
  CHECK(cursor.value() == "80");
  CHECK(cursor.next() == "--json");
  CHECK_FALSE(cursor.has_inline_value());
  CHECK(cursor.next() == "-t");
  const auto missing = cursor.value();
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message == "-t: needs a value");
  CHECK(missing.error().exit_code == 2);
  CHECK(cursor.done());
}
