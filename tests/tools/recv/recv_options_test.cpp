#include "tools/recv/recv_options.h"

#include <doctest/doctest.h>

#include <vector>

#include "tools/common/exit_codes.h"

using namespace dwcp::tools;

namespace {

std::expected<RecvOptions, CliError> parse(const std::vector<std::string_view>& args) {
  return parse_recv_options(args);
}

std::string error_of(const std::vector<std::string_view>& args) {
  const auto result = parse(args);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().exit_code == kExitUsage);
  CHECK(result.error().message.find('\n') == std::string::npos);
  return result.error().message;
}

}  // namespace

TEST_CASE("defaults listen on every address, port 5301, one line a second") {
  const auto o = parse({});
  REQUIRE(o.has_value());
  CHECK(o->bind == "0.0.0.0");
  CHECK(o->port == 5301);
  CHECK(o->interval == doctest::Approx(1.0));
  CHECK(o->idle_timeout == doctest::Approx(0.0));
  CHECK_FALSE(o->json);
  CHECK_FALSE(o->json_stream);
  CHECK_FALSE(o->one_off);
}

TEST_CASE("every option is taken") {
  const auto o = parse({"-s", "-B", "127.0.0.1", "--port=0", "-i", "0", "--json", "--one-off",
                        "--idle-timeout", "30"});
  REQUIRE(o.has_value());
  CHECK(o->bind == "127.0.0.1");
  CHECK(o->port == 0);
  CHECK(o->interval == doctest::Approx(0.0));
  CHECK(o->idle_timeout == doctest::Approx(30.0));
  CHECK(o->json);
  CHECK(o->one_off);
  CHECK(parse({"--version"})->action == RecvOptions::Action::version);
}

TEST_CASE("bad command lines name the option and the problem") {
  CHECK(error_of({"--nope"}) == "--nope: unknown option (see --help)");
  CHECK(error_of({"--json-stream", "-J"}) == "--json-stream: cannot be combined with --json");
  CHECK(error_of({"--json-stream=1"}) == "--json-stream: takes no value");
  CHECK(error_of({"-p"}) == "-p: needs a value");
  CHECK(error_of({"-p", "x"}).starts_with("-p: 'x' is not a port"));
  CHECK(error_of({"-i", "-1"}).starts_with("-i: '-1' is negative"));
  CHECK(error_of({"--idle-timeout", "soon"}).starts_with("--idle-timeout: 'soon' is not"));
  CHECK(error_of({"-B", ""}) == "-B: empty address");
  CHECK(error_of({"--one-off=1"}) == "--one-off: takes no value");
  CHECK(error_of({"stray"}).starts_with("stray: unexpected argument"));
}

TEST_CASE("--output and --stdout say where files go, one or the other") {
  const auto none = parse({});
  CHECK(none->output.empty());
  CHECK_FALSE(none->to_stdout);
  CHECK(parse({"-o", "/srv/in"})->output == "/srv/in");
  CHECK(parse({"--output=in"})->output == "in");
  CHECK(parse({"--stdout", "--one-off"})->to_stdout);
  CHECK(error_of({"-o", ""}) == "-o: empty directory");
  CHECK(error_of({"--stdout", "-o", "x"}) == "--stdout: cannot be combined with --output");
  CHECK(error_of({"--stdout=1"}) == "--stdout: takes no value");
}

TEST_CASE("the node flags are taken as dwcp-send takes them") {
  using dwcp::ThreadingMode;
  using dwcp::transport::BackendKind;
  using dwcp::transport::ZerocopyMode;
  const auto none = parse({});
  CHECK(none->node.io == BackendKind::automatic);
  CHECK(none->node.threading == ThreadingMode::shared);
  const auto o = parse(
      {"--io=plain", "--zerocopy", "on", "--threads=dedicated", "--idle", "spin", "--cpus", "0"});
  REQUIRE(o.has_value());
  CHECK(o->node.io == BackendKind::plain);
  CHECK(o->node.zerocopy == ZerocopyMode::on);
  CHECK(o->node.threading == ThreadingMode::dedicated);
  CHECK(o->node.idle == dwcp::transport::IdleMode::spin);
  CHECK(o->node.cpus == "0");
  CHECK(error_of({"--io", "fast"}) == "--io: 'fast' is not auto, mmsg+gso, mmsg, uring or plain");
  CHECK(error_of({"--zerocopy", "1"}) == "--zerocopy: '1' is not auto, on or off");
  CHECK(error_of({"--threads", ""}) == "--threads: '' is not shared or dedicated");
  CHECK(error_of({"--idle", "nap"}) == "--idle: 'nap' is not spin, backoff or block");
  CHECK(error_of({"--cpus", "x-"}).starts_with("--cpus: 'x-' is not a CPU list"));
  CHECK(error_of({"--cpus"}) == "--cpus: needs a value");
}

TEST_CASE("--sync-dir says where replicas live, beside --output or --stdout") {
  CHECK(parse({})->sync_dir.empty());
  CHECK(parse({"--sync-dir", "/srv/replicas"})->sync_dir == "/srv/replicas");
  const auto both = parse({"--sync-dir=r", "-o", "in"});
  REQUIRE(both.has_value());
  CHECK(both->sync_dir == "r");
  CHECK(both->output == "in");
  CHECK(parse({"--sync-dir", "r", "--stdout"}).has_value());
  CHECK(error_of({"--sync-dir", ""}) == "--sync-dir: empty directory");
  CHECK(error_of({"--sync-dir"}) == "--sync-dir: needs a value");
}
