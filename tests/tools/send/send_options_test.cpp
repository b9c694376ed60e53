#include "tools/send/send_options.h"

#include <doctest/doctest.h>

#include <vector>

#include "tools/common/exit_codes.h"

using namespace dwcp::tools;
using dwcp::transport::CongestionAlgorithm;

namespace {

std::expected<SendOptions, CliError> parse(const std::vector<std::string_view>& args) {
  return parse_send_options(args);
}

// The one-line message of a command line that must be refused as a usage error.
std::string error_of(const std::vector<std::string_view>& args) {
  const auto result = parse(args);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().exit_code == kExitUsage);
  CHECK(result.error().message.find('\n') == std::string::npos);
  return result.error().message;
}

}  // namespace

TEST_CASE("defaults follow iperf3") {
  const auto o = parse({"-c", "127.0.0.1"});
  REQUIRE(o.has_value());
  CHECK(o->action == SendOptions::Action::run);
  CHECK(o->host == "127.0.0.1");
  CHECK(o->port == kDefaultPort);
  CHECK(o->seconds == doctest::Approx(10.0));
  CHECK(o->bytes == 0);
  CHECK(o->streams == 1);
  CHECK(o->message_size == 64u << 10);
  CHECK(o->congestion == CongestionAlgorithm::bbr);
  CHECK(o->interval == doctest::Approx(1.0));
  CHECK_FALSE(o->json);
  CHECK_FALSE(o->json_stream);
}

TEST_CASE("every option is taken, short and long") {
  const auto o = parse({"--client", "h", "-p", "9000", "-n", "64M", "-P", "4", "-l", "128K",
                        "--congestion=cubic", "-i", "0.5", "--json", "--connect-timeout", "2"});
  REQUIRE(o.has_value());
  CHECK(o->port == 9000);
  CHECK(o->bytes == 64u << 20);
  CHECK(o->streams == 4);
  CHECK(o->message_size == 128u << 10);
  CHECK(o->congestion == CongestionAlgorithm::cubic);
  CHECK(o->interval == doctest::Approx(0.5));
  CHECK(o->json);
  CHECK(o->connect_timeout == doctest::Approx(2.0));
  const auto t = parse({"-c", "h", "-t", "3"});
  REQUIRE(t.has_value());
  CHECK(t->seconds == doctest::Approx(3.0));
}

TEST_CASE("a rate implies the fixed controller") {
  const auto o = parse({"-c", "h", "-b", "100M"});
  REQUIRE(o.has_value());
  CHECK(o->congestion == CongestionAlgorithm::fixed);
  CHECK(o->rate_bits == 100'000'000u);
  CHECK(parse({"-c", "h", "-b", "1G", "-C", "fixed"}).has_value());
  CHECK(error_of({"-c", "h", "-b", "1G", "-C", "bbr"}) ==
        "-b: needs the fixed controller (-C fixed)");
  CHECK(error_of({"-c", "h", "-C", "fixed"}) == "-C: fixed needs a rate (-b)");
}

TEST_CASE("--version and --help need no host") {
  CHECK(parse({"--version"})->action == SendOptions::Action::version);
  CHECK(parse({"-h"})->action == SendOptions::Action::help);
}

TEST_CASE("bad command lines name the option and the problem") {
  CHECK(error_of({"-c", "h", "--frobnicate"}) == "--frobnicate: unknown option (see --help)");
  CHECK(error_of({"-c"}) == "-c: needs a value");
  CHECK(error_of({"-p", "80"}) == "-c: a host to send to is required");
  CHECK(error_of({"-c", "h", "-p", "70000"}).starts_with("-p: '70000' is not a port"));
  CHECK(error_of({"-c", "h", "-p", "0"}) == "-p: port 0 cannot be connected to");
  CHECK(error_of({"-c", "h", "-t", "abc"}).starts_with("-t: 'abc' is not a number"));
  CHECK(error_of({"-c", "h", "-t", "0"}) == "-t: must be above 0");
  CHECK(error_of({"-c", "h", "-n", "5Q"}).starts_with("-n: '5Q' has an unknown unit"));
  CHECK(error_of({"-c", "h", "-n", "1M", "-t", "2"}) == "-n: cannot be combined with -t");
  CHECK(error_of({"-c", "h", "-n", "3", "-P", "4"}) ==
        "-n: must give every stream (-P) at least one byte");
  CHECK(error_of({"-c", "h", "-P", "0"}).starts_with("-P: '0' is outside 1..128"));
  CHECK(error_of({"-c", "h", "-l", "2M"}) == "-l: must be 1 byte .. 1M");
  CHECK(error_of({"-c", "h", "-C", "reno"}) == "-C: is bbr, cubic or fixed");
  CHECK(error_of({"-c", "h", "-b", "-5"}).starts_with("-b: '-5' is negative"));
  CHECK(error_of({"-c", "h", "--json=yes"}) == "--json: takes no value");
  CHECK(error_of({"-c", "h", "--json", "--json-stream"}) ==
        "--json-stream: cannot be combined with --json");
  CHECK(error_of({"-c", "h", "extra"}).starts_with("extra: unexpected argument"));
}

TEST_CASE("-F takes a file, a directory or stdin, and refuses -t and -n") {
  CHECK(parse({"-c", "h"})->file.empty());
  CHECK(parse({"-c", "h", "-F", "/data/x.bin"})->file == "/data/x.bin");
  CHECK(parse({"-c", "h", "--file=dir", "-P", "4"})->file == "dir");
  CHECK(parse({"-c", "h", "-F", "-"})->file == "-");
  CHECK(error_of({"-c", "h", "-F", "x", "-t", "5"}) == "-F: cannot be combined with -t");
  CHECK(error_of({"-c", "h", "-n", "1M", "-F", "x"}) == "-F: cannot be combined with -n");
  CHECK(error_of({"-c", "h", "-F", ""}) == "-F: empty path (- reads stdin)");
  CHECK(error_of({"-c", "h", "-F"}) == "-F: needs a value");
}

TEST_CASE("-R and --bidir turn the direction; -F stays one way") {
  const auto forward = parse({"-c", "h"});
  CHECK_FALSE(forward->reverse);
  CHECK_FALSE(forward->bidir);
  const auto reverse = parse({"-c", "h", "-R", "-n", "8M", "-P", "2", "-l", "1M", "-b", "1G"});
  REQUIRE(reverse.has_value());
  CHECK(reverse->reverse);
  CHECK(reverse->message_size == 1u << 20);
  CHECK(reverse->congestion == CongestionAlgorithm::fixed);
  CHECK(parse({"-c", "h", "--reverse"})->reverse);
  CHECK(parse({"-c", "h", "--bidir", "-t", "2"})->bidir);
  CHECK(error_of({"-c", "h", "-R", "-F", "x"}) == "-R: cannot be combined with -F");
  CHECK(error_of({"-c", "h", "--bidir", "-F", "x"}) == "--bidir: cannot be combined with -F");
  CHECK(error_of({"-c", "h", "-R", "--bidir"}) == "--bidir: cannot be combined with -R");
  CHECK(error_of({"-c", "h", "--reverse=1"}) == "--reverse: takes no value");
  CHECK(error_of({"-c", "h", "--bidir=yes"}) == "--bidir: takes no value");
}

TEST_CASE("the node flags reach NodeOptions; bad values name the flag") {
  using dwcp::ThreadingMode;
  using dwcp::transport::BackendKind;
  using dwcp::transport::ZerocopyMode;
  const auto defaults = parse({"-c", "h"});
  CHECK(defaults->node.io == BackendKind::automatic);
  CHECK(defaults->node.zerocopy == ZerocopyMode::automatic);
  CHECK(defaults->node.threading == ThreadingMode::shared);
  CHECK(defaults->node.idle == dwcp::transport::IdleMode::backoff);
  CHECK(defaults->node.cpus.empty());
  const auto o = parse({"-c", "h", "--io", "uring", "--zerocopy=off", "--threads", "dedicated",
                        "--idle", "block", "--cpus", "0,1"});
  REQUIRE(o.has_value());
  CHECK(o->node.io == BackendKind::uring);
  CHECK(o->node.zerocopy == ZerocopyMode::off);
  CHECK(o->node.threading == ThreadingMode::dedicated);
  CHECK(o->node.idle == dwcp::transport::IdleMode::block);
  CHECK(o->node.cpus == "0,1");
  dwcp::NodeOptions node;
  apply(o->node, node);
  CHECK(node.idle == dwcp::transport::IdleMode::block);
  CHECK(node.io == BackendKind::uring);
  CHECK(node.socket.zerocopy == ZerocopyMode::off);
  CHECK(node.threading == ThreadingMode::dedicated);
  CHECK(node.cpus == "0,1");
  for (const char* kind : {"auto", "mmsg", "mmsg+gso", "plain", "uring"}) {
    CAPTURE(kind);
    CHECK(parse({"-c", "h", "--io", kind}).has_value());
  }
  CHECK(parse({"-c", "h", "--io", "mmsg"})->node.io == BackendKind::mmsg);
  CHECK(parse({"-c", "h", "--zerocopy", "on"})->node.zerocopy == ZerocopyMode::on);
  CHECK(parse({"-c", "h", "--cpus", "2-3"})->node.cpus == "2-3");
  CHECK(error_of({"-c", "h", "--io", "epoll"}) ==
        "--io: 'epoll' is not auto, mmsg+gso, mmsg, uring or plain");
  CHECK(error_of({"-c", "h", "--zerocopy", "yes"}) == "--zerocopy: 'yes' is not auto, on or off");
  CHECK(error_of({"-c", "h", "--threads", "many"}) ==
        "--threads: 'many' is not shared or dedicated");
  CHECK(parse({"-c", "h", "--idle=spin"})->node.idle == dwcp::transport::IdleMode::spin);
  CHECK(error_of({"-c", "h", "--idle", "poll"}) == "--idle: 'poll' is not spin, backoff or block");
  CHECK(error_of({"-c", "h", "--cpus", "a"}).starts_with("--cpus: 'a' is not a CPU list"));
  CHECK(error_of({"-c", "h", "--cpus", "1,,2"}).starts_with("--cpus: '1,,2' is not a CPU list"));
  CHECK(error_of({"-c", "h", "--cpus", "3-1"}).starts_with("--cpus: '3-1' is not a CPU list"));
  CHECK(error_of({"-c", "h", "--cpus", ""}).starts_with("--cpus: '' is not a CPU list"));
  CHECK(error_of({"-c", "h", "--io"}) == "--io: needs a value");
}

TEST_CASE("--cpus naming a CPU the process may not use is a usage error") {
  NodeFlags flags;
  CHECK_FALSE(check_cpus_available(flags).has_value());
  flags.cpus = "1048575";  // CpuSet's largest id: no machine has it
  const auto error = check_cpus_available(flags);
  REQUIRE(error.has_value());
  CHECK(error->exit_code == kExitUsage);
  CHECK(error->message.starts_with("--cpus: CPU 1048575 is not available"));
}

TEST_CASE("--sync takes a file, a block size, rounds, --watch and a bound") {
  const auto plain = parse({"-c", "h"});
  CHECK(plain->sync.empty());
  CHECK_FALSE(plain->watch);
  const auto once = parse({"--sync", "disk.img", "-c", "h"});
  REQUIRE(once.has_value());
  CHECK(once->sync == "disk.img");
  CHECK(once->block_size == 4096);
  CHECK(once->rounds == 0);
  CHECK_FALSE(once->watch);
  CHECK(once->sync_seconds == doctest::Approx(0.0));
  CHECK(once->interval == doctest::Approx(1.0));
  const auto o = parse({"--sync=img", "-c", "h", "--block-size", "64K", "--watch", "--rounds", "5",
                        "-i", "0.2", "-t", "30", "-b", "100M", "--json"});
  REQUIRE(o.has_value());
  CHECK(o->block_size == 64u << 10);
  CHECK(o->watch);
  CHECK(o->rounds == 5);
  CHECK(o->interval == doctest::Approx(0.2));
  CHECK(o->sync_seconds == doctest::Approx(30.0));
  CHECK(o->congestion == CongestionAlgorithm::fixed);
  CHECK(o->json);
  CHECK(parse({"--sync", "f", "-c", "h", "--block-size", "64"})->block_size == 64);
  CHECK(parse({"--sync", "f", "-c", "h", "--block-size", "1M"})->block_size == 1u << 20);
}

TEST_CASE("--sync takes its receiver as HOST[:PORT] too") {
  const auto named = parse({"--sync", "f", "example.net"});
  REQUIRE(named.has_value());
  CHECK(named->host == "example.net");
  CHECK(named->port == kDefaultPort);
  const auto with_port = parse({"--sync", "f", "10.0.0.2:6000"});
  CHECK(with_port->host == "10.0.0.2");
  CHECK(with_port->port == 6000);
  const auto first = parse({"127.0.0.1:7000", "--sync", "f"});
  CHECK(first->host == "127.0.0.1");
  CHECK(first->port == 7000);
  const auto v6 = parse({"--sync", "f", "[::1]:6001"});
  CHECK(v6->host == "[::1]");
  CHECK(v6->port == 6001);
  CHECK(parse({"--sync", "f", "::1"})->host == "::1");
  CHECK(parse({"--sync", "f", "[fe80::1]"})->host == "[fe80::1]");
  CHECK(error_of({"--sync", "f", "h:0"}) == "h:0: port 0 cannot be connected to");
  CHECK(error_of({"--sync", "f", "h:http"}).starts_with("h:http: 'http' is not a port"));
  CHECK(error_of({"--sync", "f", "[::1"}) == "[::1: no ']' after the IPv6 address");
  CHECK(error_of({"--sync", "f", ":5301"}) == ":5301: empty host");
  CHECK(error_of({"--sync", "f", "-c", "h", "g"}) == "g: the host is already given with -c");
  CHECK(error_of({"--sync", "f", "a", "b"}).starts_with("b: unexpected argument"));
  CHECK(error_of({"--sync", "f"}) == "-c: a host to send to is required");
}

TEST_CASE("--sync refuses what belongs to other transfers; its flags need it") {
  CHECK(error_of({"--sync", "f", "-c", "h", "-F", "x"}) == "-F: cannot be combined with --sync");
  CHECK(error_of({"--sync", "f", "-c", "h", "-n", "1M"}) == "-n: cannot be combined with --sync");
  CHECK(error_of({"--sync", "f", "-c", "h", "-R"}) == "-R: cannot be combined with --sync");
  CHECK(error_of({"--sync", "f", "-c", "h", "--json-stream"}) ==
        "--json-stream: cannot be combined with --sync");
  CHECK(error_of({"--sync", "f", "-c", "h", "--bidir"}) ==
        "--bidir: cannot be combined with --sync");
  CHECK(error_of({"--sync", "f", "-c", "h", "-P", "1"}) == "-P: cannot be combined with --sync");
  CHECK(error_of({"--sync", "f", "-c", "h", "-l", "1K"}) == "-l: cannot be combined with --sync");
  CHECK(error_of({"-c", "h", "--watch"}) == "--watch: needs --sync");
  CHECK(error_of({"-c", "h", "--rounds", "3"}) == "--rounds: needs --sync");
  CHECK(error_of({"-c", "h", "--block-size", "8K"}) == "--block-size: needs --sync");
  CHECK(error_of({"--sync", "f", "-c", "h", "--block-size", "63"}) ==
        "--block-size: must be 64 bytes .. 1M");
  CHECK(error_of({"--sync", "f", "-c", "h", "--block-size", "2M"}) ==
        "--block-size: must be 64 bytes .. 1M");
  CHECK(error_of({"--sync", "f", "-c", "h", "--rounds", "0"}).starts_with("--rounds: '0'"));
  CHECK(error_of({"--sync", "f", "-c", "h", "--rounds", "x"}).starts_with("--rounds: 'x'"));
  CHECK(error_of({"--sync", "", "-c", "h"}) == "--sync: empty path");
  CHECK(error_of({"--sync", "f", "-c", "h", "--watch=1"}) == "--watch: takes no value");
  CHECK(error_of({"--sync", "f", "-c", "h", "-t", "0"}) == "-t: must be above 0");
}
