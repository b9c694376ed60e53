// Round-trip latency of small messages over loopback through the public API: a client
// sends one message on a stream, the server echoes it from its on_message callback (on the
// server's I/O thread), the client waits for the echo and records the round trip with
// std::chrono::steady_clock. Prints p50/p99/p99.9 in microseconds; --json prints one JSON
// object instead. The peer to compare with in the same session is sockperf UDP ping-pong
// (bench/transport_compare).
//
// Both nodes live in this one process: the datagrams still cross the kernel's loopback
// path exactly as between two processes, and one process keeps the run bounded and its
// clean-up trivial (no server to find and kill afterwards).
//
//   --idle spin   both nodes' I/O threads spin; the client busy-polls Stream::peek()
//   --idle block  both I/O threads block in epoll; the client sleeps in Connection::wait()
//   --idle backoff  the I/O threads spin, then yield, then block; the client busy-polls
//   --server-idle, --client-idle  one node's I/O thread idles otherwise than --idle says
//                 (--idle still decides how the client polls)
//   --poll yield  (spin, backoff) the client yields between polls: a spin-mode ping-pong runs
//                 three busy threads (two I/O threads and the client), and on a machine with
//                 two cores one of them always waits for the scheduler
//   --poll callback  the client, too, answers from its I/O thread (on_message): it timestamps
//                 each echo and sends the next ping there; the main thread sleeps. Two busy
//                 threads in spin mode, as with sockperf
//
//   --io, --zerocopy, --threading  both nodes' I/O backend (auto, mmsg+gso, mmsg, uring,
//                 plain), zero-copy sends (auto, on, off) and threading mode (shared,
//                 dedicated), as NodeOptions takes them (bench/io_matrix runs each)
//
//   transport_latency [--idle spin|backoff|block] [--server-idle M] [--client-idle M]
//                     [--poll spin|yield|callback] [--rounds N] [--warmup N] [--size BYTES]
//                     [--seconds S] [--io KIND] [--zerocopy MODE] [--threading MODE] [--json]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "transport/api/node.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  dwcp::transport::IdleMode idle = dwcp::transport::IdleMode::spin;
  // --server-idle / --client-idle: one node's I/O thread differs from --idle.
  std::optional<dwcp::transport::IdleMode> server_idle;
  std::optional<dwcp::transport::IdleMode> client_idle;
  std::uint64_t rounds = 20000;
  std::uint64_t warmup = 2000;
  std::size_t size = 64;
  double seconds = 20;  // the whole measurement stops here, however many rounds are done
  bool json = false;
  bool yield = false;     // --poll yield: the spinning client yields between polls
  bool callback = false;  // --poll callback: the client answers from its I/O thread
  dwcp::transport::BackendKind io = dwcp::transport::BackendKind::automatic;
  dwcp::transport::ZerocopyMode zerocopy = dwcp::transport::ZerocopyMode::automatic;
  dwcp::ThreadingMode threading = dwcp::ThreadingMode::shared;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "transport_latency: %s\nusage: transport_latency "
               "[--idle spin|backoff|block] [--server-idle M] [--client-idle M] [--poll "
               "spin|yield|callback] [--rounds N] [--warmup N] [--size "
               "BYTES] [--seconds S] [--io KIND] [--zerocopy MODE] [--threading MODE] "
               "[--json]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--json") {
      o.json = true;
      continue;
    }
    if (flag == "-h" || flag == "--help") usage("help");
    if (i + 1 >= argc) usage("a flag without its value");
    const char* value = argv[++i];
    char* end = nullptr;
    if (flag == "--idle") {
      if (!dwcp::transport::parse_idle_mode(value, o.idle)) {
        usage("--idle takes spin, backoff or block");
      }
      continue;
    }
    if (flag == "--server-idle" || flag == "--client-idle") {
      dwcp::transport::IdleMode mode{};
      if (!dwcp::transport::parse_idle_mode(value, mode)) {
        usage("--server-idle and --client-idle take spin, backoff or block");
      }
      (flag == "--server-idle" ? o.server_idle : o.client_idle) = mode;
      continue;
    }
    if (flag == "--io") {
      if (!dwcp::transport::parse_backend_kind(value, o.io)) {
        usage("--io takes auto, mmsg+gso, mmsg, uring or plain");
      }
      continue;
    }
    if (flag == "--zerocopy") {
      if (!dwcp::transport::parse_zerocopy_mode(value, o.zerocopy)) {
        usage("--zerocopy takes auto, on or off");
      }
      continue;
    }
    if (flag == "--threading") {
      if (!dwcp::parse_threading_mode(value, o.threading)) {
        usage("--threading takes shared or dedicated");
      }
      continue;
    }
    if (flag == "--poll") {
      const std::string_view how = value;
      if (how != "spin" && how != "yield" && how != "callback") {
        usage("--poll takes spin, yield or callback");
      }
      o.yield = how == "yield";
      o.callback = how == "callback";
      continue;
    }
    if (flag == "--rounds") {
      o.rounds = std::strtoull(value, &end, 10);
    } else if (flag == "--warmup") {
      o.warmup = std::strtoull(value, &end, 10);
    } else if (flag == "--size") {
      o.size = std::strtoull(value, &end, 10);
    } else if (flag == "--seconds") {
      o.seconds = std::strtod(value, &end);
    } else {
      usage("unknown flag");
    }
    if (end == value || *end != '\0') usage("a number was expected");
  }
  if (o.rounds == 0 || o.size < 8) usage("--rounds must be positive and --size at least 8");
  if (o.rounds > 10'000'000) usage("--rounds is at most 10000000");
  if (!(o.seconds > 0) || o.seconds > 3600) usage("--seconds is in (0, 3600]");
  return o;
}

dwcp::NodeOptions node_options(const Options& o, dwcp::transport::IdleMode idle) {
  dwcp::NodeOptions options;
  options.bind = dwcp::transport::SocketAddress::loopback_v4(0);
  options.idle = idle;
  options.io = o.io;
  options.socket.zerocopy = o.zerocopy;
  options.threading = o.threading;
  return options;
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  // The client busy-polls unless the nodes block.
  const bool spin = options.idle != dwcp::transport::IdleMode::block;

  std::atomic<std::uint64_t> echoed{0};
  std::atomic<std::uint64_t> echo_failures{0};
  dwcp::NodeOptions server_options =
      node_options(options, options.server_idle.value_or(options.idle));
  server_options.accept_connections = true;
  server_options.on_accept = [](dwcp::Connection&) { return true; };
  server_options.on_message = [&](dwcp::Stream& stream, std::span<const std::byte> bytes) {
    if (stream.send(bytes) == dwcp::SendStatus::accepted) {
      echoed.fetch_add(1, std::memory_order_relaxed);
    } else {
      echo_failures.fetch_add(1, std::memory_order_relaxed);
    }
  };
  auto server = dwcp::Node::start(server_options);
  if (!server) {
    std::fprintf(stderr, "transport_latency: server: %s\n", server.error().c_str());
    return 1;
  }
  // --poll callback: the client's I/O thread times each echo and sends the next ping.
  // Each ping carries its round and its send time; the RTTs go to `rtts_us`, which only
  // the client's I/O thread touches until `callback_done` is set.
  std::vector<double> rtts_us;
  rtts_us.reserve(options.rounds);
  std::atomic<bool> callback_done{false};
  // The main thread sleeps here until the callback is done: one wake-up per run, so a
  // third thread does not take a core from the two that ping-pong.
  std::mutex done_mutex;
  std::condition_variable done_changed;
  const auto finish_callback = [&] {
    const std::lock_guard lock(done_mutex);
    callback_done.store(true, std::memory_order_release);
    done_changed.notify_one();
  };
  std::atomic<std::uint64_t> callback_mismatches{0};
  std::uint64_t callback_round = 0;
  std::uint64_t callback_warmed = 0;
  std::vector<std::byte> callback_ping;
  const auto callback_began = Clock::now();
  dwcp::NodeOptions client_options =
      node_options(options, options.client_idle.value_or(options.idle));
  if (options.callback) {
    client_options.on_message = [&](dwcp::Stream& stream, std::span<const std::byte> bytes) {
      const auto now = Clock::now();
      std::uint64_t round = 0;
      std::int64_t sent_ns = 0;
      if (bytes.size() < 16) {
        callback_mismatches.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      std::memcpy(&round, bytes.data(), sizeof round);
      std::memcpy(&sent_ns, bytes.data() + 8, sizeof sent_ns);
      if (round != callback_round) callback_mismatches.fetch_add(1, std::memory_order_relaxed);
      const double rtt = std::chrono::duration<double, std::micro>(
                             now.time_since_epoch() - std::chrono::nanoseconds(sent_ns))
                             .count();
      if (callback_warmed < options.warmup && now < callback_began + std::chrono::seconds(1)) {
        ++callback_warmed;
      } else {
        rtts_us.push_back(rtt);
      }
      if (rtts_us.size() >= options.rounds) {
        finish_callback();
        return;
      }
      ++callback_round;
      std::vector<std::byte>& next = callback_ping;
      next.assign(bytes.begin(), bytes.end());
      const std::int64_t stamp =
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
              .count();
      std::memcpy(next.data(), &callback_round, sizeof callback_round);
      std::memcpy(next.data() + 8, &stamp, sizeof stamp);
      if (stream.send(next) != dwcp::SendStatus::accepted) {
        callback_mismatches.fetch_add(1, std::memory_order_relaxed);
        finish_callback();
      }
    };
  }
  auto client = dwcp::Node::start(client_options);
  if (!client) {
    std::fprintf(stderr, "transport_latency: client: %s\n", client.error().c_str());
    return 1;
  }
  dwcp::Connection connection = (*client)->connect((*server)->local_address());
  if (!connection.wait_established(5s)) {
    std::fprintf(stderr, "transport_latency: no connection within 5 s\n");
    return 1;
  }
  auto opened = connection.open_stream();
  if (!opened) {
    std::fprintf(stderr, "transport_latency: open_stream: %s\n",
                 std::string(dwcp::to_string(opened.error())).c_str());
    return 1;
  }
  dwcp::Stream stream = *opened;

  std::vector<std::byte> ping(options.size, std::byte{0x5a});
  const auto began = Clock::now();
  const auto seconds =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
  const auto deadline = began + seconds;
  // The warm-up ends after --warmup rounds or a fifth of --seconds, whichever comes first.
  const auto warm_until = began + seconds / 5;
  std::uint64_t warmed = 0;
  bool measuring = false;
  std::uint64_t mismatches = 0;
  bool timed_out = false;
  const char* failure = nullptr;

  if (options.callback) {
    // The first ping leaves from here; the client's I/O thread sends every later one.
    const std::uint64_t first = 0;
    const std::int64_t stamp =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
            .count();
    std::memcpy(ping.data(), &first, sizeof first);
    std::memcpy(ping.data() + 8, &stamp, sizeof stamp);
    if (ping.size() < 16 || stream.send(ping) != dwcp::SendStatus::accepted) {
      failure = "the first ping was refused (--size must be at least 16)";
    }
    if (failure == nullptr) {
      std::unique_lock lock(done_mutex);
      timed_out = !done_changed.wait_until(
          lock, deadline, [&] { return callback_done.load(std::memory_order_acquire); });
    }
    mismatches = callback_mismatches.load();
  }
  for (std::uint64_t round = 0; !options.callback && rtts_us.size() < options.rounds; ++round) {
    std::memcpy(ping.data(), &round, sizeof round);
    const auto start = Clock::now();
    if (start > deadline) {
      timed_out = true;
      break;
    }
    measuring = measuring || warmed >= options.warmup || start >= warm_until;
    // A ping-pong has one message in flight: back-pressure here means something is wrong.
    const dwcp::SendStatus status = stream.send(ping);
    if (status != dwcp::SendStatus::accepted) {
      failure = "send was refused";
      break;
    }
    std::span<const std::byte> echo;
    if (spin) {
      for (std::uint64_t polls = 1;; ++polls) {
        echo = stream.peek();
        if (!echo.empty()) break;
        if (options.yield) std::this_thread::yield();
        if ((polls & 0xfff) == 0 && Clock::now() > deadline + 1s) {
          failure = "no echo within a second of the deadline";
          break;
        }
      }
    } else {
      for (;;) {
        const std::uint64_t seen = connection.events();
        echo = stream.peek();
        if (!echo.empty()) break;
        if (Clock::now() > deadline + 1s) {
          failure = "no echo within a second of the deadline";
          break;
        }
        connection.wait(seen, 100ms);
      }
    }
    if (failure != nullptr) break;
    const auto end = Clock::now();
    std::uint64_t got = 0;
    if (echo.size() != ping.size() || (std::memcpy(&got, echo.data(), sizeof got), got != round)) {
      ++mismatches;
    }
    stream.release();
    if (!measuring) {
      ++warmed;
    } else {
      rtts_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    }
  }

  const auto stats = connection.stats();
  connection.close();
  (*client)->stop();  // after this the client's I/O thread no longer touches rtts_us
  (*server)->stop();

  if (failure != nullptr) {
    std::fprintf(stderr, "transport_latency: %s (echoed %llu, echo failures %llu)\n", failure,
                 static_cast<unsigned long long>(echoed.load()),
                 static_cast<unsigned long long>(echo_failures.load()));
    return 1;
  }
  if (rtts_us.empty()) {
    std::fprintf(stderr, "transport_latency: the time ran out during the warm-up\n");
    return 1;
  }
  double sum = 0;
  for (double v : rtts_us) sum += v;
  std::sort(rtts_us.begin(), rtts_us.end());
  const double p50 = percentile(rtts_us, 0.50);
  const double p99 = percentile(rtts_us, 0.99);
  const double p999 = percentile(rtts_us, 0.999);
  const double mean = sum / static_cast<double>(rtts_us.size());
  const std::string idle(dwcp::transport::to_string(options.idle));
  const char* poll =
      options.callback ? "callback" : (spin ? (options.yield ? "yield" : "spin") : "wait");
  if (options.json) {
    std::printf(
        "{\"bench\": \"transport_latency\", \"idle\": \"%s\", \"poll\": \"%s\", \"size\": %zu, "
        "\"rounds\": %zu, "
        "\"timed_out\": %s, \"mismatches\": %llu, \"min_us\": %.3f, \"p50_us\": %.3f, "
        "\"p99_us\": %.3f, \"p999_us\": %.3f, \"max_us\": %.3f, \"mean_us\": %.3f, "
        "\"backend\": \"%s\", \"threading\": \"%s\"}\n",
        idle.c_str(), poll, options.size, rtts_us.size(), timed_out ? "true" : "false",
        static_cast<unsigned long long>(mismatches), rtts_us.front(), p50, p99, p999,
        rtts_us.back(), mean, (*client)->backend().c_str(),
        std::string(dwcp::to_string(options.threading)).c_str());
  } else {
    std::printf("backend: %s\n", (*client)->backend().c_str());
    std::printf(
        "dwcp ping-pong, idle %s, poll %s, %zu-byte messages, %zu rounds%s (warm-up %llu)\n",
        idle.c_str(), poll, options.size, rtts_us.size(),
        timed_out ? " (stopped by --seconds)" : "",
        static_cast<unsigned long long>(options.warmup));
    std::printf("RTT us: min %.2f  p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  mean %.2f\n",
                rtts_us.front(), p50, p99, p999, rtts_us.back(), mean);
    std::printf("packets sent %llu, lost %llu, srtt %.1f us, mismatched echoes %llu\n",
                static_cast<unsigned long long>(stats.packets_sent),
                static_cast<unsigned long long>(stats.packets_lost),
                std::chrono::duration<double, std::micro>(stats.smoothed_rtt).count(),
                static_cast<unsigned long long>(mismatches));
  }
  return mismatches == 0 ? 0 : 1;
}
