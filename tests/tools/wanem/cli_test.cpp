#include "tools/wanem/cli.h"

#include <doctest/doctest.h>

#include <vector>

#include "tools/wanem/profiles.h"

using namespace dwcp::wanem;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

std::expected<Config, CliError> parse(std::vector<std::string_view> args) {
  args.insert(args.begin(), {"--if-a", "mA", "--if-b", "mB"});
  return parse_command_line(args);
}

std::string error_of(std::vector<std::string_view> args) {
  const auto result = parse(std::move(args));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().exit_code == kExitUsage);
  CHECK(result.error().message.find('\n') == std::string::npos);
  return result.error().message;
}

}  // namespace

TEST_CASE("value parsers take units and reject garbage") {
  CHECK(parse_duration("10", milliseconds(1)) == milliseconds(10));
  CHECK(parse_duration("2.5ms", seconds(1)) == microseconds(2500));
  CHECK(parse_duration("250us", milliseconds(1)) == microseconds(250));
  CHECK(parse_duration("3s", milliseconds(1)) == seconds(3));
  CHECK(parse_duration("3", seconds(1)) == seconds(3));
  CHECK_FALSE(parse_duration("3 ms", milliseconds(1)).has_value());
  CHECK_FALSE(parse_duration("-1", milliseconds(1)).has_value());
  CHECK_FALSE(parse_duration("nan", milliseconds(1)).has_value());
  CHECK_FALSE(parse_duration("1e300", milliseconds(1)).has_value());
  CHECK_FALSE(parse_duration("", milliseconds(1)).has_value());
  CHECK_FALSE(parse_duration("5h", milliseconds(1)).has_value());

  CHECK(parse_percent("1") == doctest::Approx(0.01));
  CHECK(parse_percent("0.5%") == doctest::Approx(0.005));
  CHECK_FALSE(parse_percent("101").has_value());
  CHECK_FALSE(parse_percent("1x").has_value());
  CHECK_FALSE(parse_percent("inf").has_value());

  CHECK(parse_rate("500M") == 500'000'000U);
  CHECK(parse_rate("1G") == 1'000'000'000U);
  CHECK(parse_rate("1gbit") == 1'000'000'000U);
  CHECK(parse_rate("100kbit/s") == 100'000U);
  CHECK(parse_rate("2.5Mbps") == 2'500'000U);
  CHECK(parse_rate("0") == 0U);
  CHECK_FALSE(parse_rate("10").has_value());  // below 8 kbit/s: surely a mistake
  CHECK_FALSE(parse_rate("1T").has_value());
  CHECK_FALSE(parse_rate("fast").has_value());

  CHECK(parse_bytes("64K") == 65536U);
  CHECK(parse_bytes("4MiB") == 4U * 1024 * 1024);
  CHECK(parse_bytes("1500") == 1500U);
  CHECK_FALSE(parse_bytes("4Q").has_value());
}

TEST_CASE("every named profile splits its RTT into one-way delay per direction") {
  CHECK(profiles().size() == 6);
  const auto check = [](std::string_view name, Duration one_way, double loss, std::uint64_t rate) {
    const auto config = parse({name});
    REQUIRE(config.has_value());
    CHECK(config->profile == name);
    for (const LinkParams& link : config->link) {
      CHECK(link.delay == one_way);
      CHECK(link.loss == doctest::Approx(loss));
      CHECK(link.rate_bps == rate);
    }
  };
  check("lan", Duration::zero(), 0.0, 0);
  check("metro", milliseconds(5), 0.0, 1'000'000'000);
  check("continental", milliseconds(20), 0.001, 1'000'000'000);
  check("intercontinental", milliseconds(75), 0.01, 500'000'000);
  check("lossy-mobile", milliseconds(40), 0.0, 50'000'000);
  check("satellite", milliseconds(300), 0.005, 100'000'000);
  CHECK(find_profile("lossy-mobile")->link.burst.mean_loss() == doctest::Approx(0.03));
}

TEST_CASE("options override the profile wherever the profile stands") {
  const auto config = parse({"--loss", "2%", "intercontinental", "--b2a-delay=10ms"});
  REQUIRE(config.has_value());
  CHECK(config->profile == "intercontinental");
  CHECK(config->link[0].loss == doctest::Approx(0.02));
  CHECK(config->link[1].loss == doctest::Approx(0.02));
  CHECK(config->link[0].delay == milliseconds(75));
  CHECK(config->link[1].delay == milliseconds(10));
  CHECK(config->link[0].rate_bps == 500'000'000U);
}

TEST_CASE("custom link and run options") {
  const auto config =
      parse({"--delay",         "1.5",  "--jitter",     "200us", "--rate",    "100M",
             "--queue-bdp",     "2",    "--burst-loss", "3/4",   "--reorder", "1",
             "--reorder-delay", "3ms",  "--duplicate",  "0.5",   "--corrupt", "0.1",
             "--seed",          "42",   "--duration",   "10",    "--json",    "/tmp/x.json",
             "--a2b-queue",     "256K", "--quiet"});
  REQUIRE(config.has_value());
  const LinkParams& a2b = config->link[0];
  const LinkParams& b2a = config->link[1];
  CHECK(a2b.delay == microseconds(1500));
  CHECK(a2b.jitter == microseconds(200));
  CHECK(a2b.rate_bps == 100'000'000U);
  CHECK(a2b.queue_bytes == 256U * 1024);
  CHECK(b2a.queue_bytes == 0U);
  CHECK(b2a.queue_bdp == doctest::Approx(2.0));
  CHECK(a2b.burst.mean_loss() == doctest::Approx(0.03));
  CHECK(a2b.burst.r == doctest::Approx(0.25));
  CHECK(a2b.reorder == doctest::Approx(0.01));
  CHECK(a2b.reorder_delay == milliseconds(3));
  CHECK(a2b.duplicate == doctest::Approx(0.005));
  CHECK(a2b.corrupt == doctest::Approx(0.001));
  CHECK(config->seed == 42U);
  CHECK(config->duration == seconds(10));
  CHECK(config->json_path == "/tmp/x.json");
  CHECK(config->quiet);
}

TEST_CASE("bad command lines give one line naming the problem") {
  CHECK(error_of({"nowhere"}).find("unknown profile 'nowhere'") != std::string::npos);
  CHECK(error_of({"--loss"}).find("--loss needs a value") != std::string::npos);
  CHECK(error_of({"--loss", "abc"}).find("--loss") != std::string::npos);
  CHECK(error_of({"--bogus", "1"}).find("unknown option --bogus") != std::string::npos);
  CHECK(error_of({"--c2d-loss", "1"}).find("unknown option") != std::string::npos);
  CHECK(error_of({"--delay", "-5"}).find("negative") != std::string::npos);
  CHECK(error_of({"--delay", "2min"}).find("unknown unit") != std::string::npos);
  CHECK(error_of({"--rate", "1T"}).find("--rate") != std::string::npos);
  CHECK(error_of({"lan", "metro"}).find("unexpected argument 'metro'") != std::string::npos);
  CHECK(error_of({"--seed", "-1"}).find("--seed") != std::string::npos);
  CHECK(error_of({"--quiet=1"}).find("takes no value") != std::string::npos);
  CHECK(error_of({"--queue", "100"}).find("below 2048") != std::string::npos);
  CHECK(error_of({"--burst-p", "1", "--burst-r", "0"}).find("--burst-r") != std::string::npos);
  CHECK(error_of({"--if-a", "a/b"}).find("interface") != std::string::npos);
  CHECK(error_of({"--if-a", "mB"}).find("same interface") != std::string::npos);

  const std::vector<std::string_view> no_ports{"lan"};
  const auto missing = parse_command_line(no_ports);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("--if-a and --if-b") != std::string::npos);
}

TEST_CASE("help, version and the profile list need no interfaces") {
  for (const std::string_view flag : {"--help", "--version", "--list-profiles"}) {
    const std::vector<std::string_view> args{flag};
    const auto config = parse_command_line(args);
    REQUIRE(config.has_value());
    CHECK(config->action != Action::run);
  }
}
