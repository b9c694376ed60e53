// Bulk throughput of one dwcp connection over loopback: a sender thread and a receiver
// thread, each driving its own Node (the shared threading mode), the sender keeping its
// stream full of large messages. Prints Gbit/s, CPU time per byte on each side, and the
// connection's recovery counters. The peer to compare with in the same session is
// iperf3 (bench/transport_compare); this program is the dwcp half.
//
//   transport_bulk [--bytes N] [--message BYTES] [--cc bbr|cubic|fixed] [--rate BYTES_PER_S]
//                  [--send-buffer BYTES] [--window BYTES] [--idle spin|backoff|block]
//                  [--io auto|mmsg+gso|mmsg|plain|uring] [--zerocopy auto|on|off]
//
// --io and --zerocopy pick the I/O backend and zero-copy sends on both sides
// (transport/io_select.h); bench/io_matrix runs each combination.
//
// --idle: what each thread does after a pass with nothing to do (transport/idle_strategy.h):
// backoff (the default, as in the public API: spin 20 µs, yield 50 µs, then block in epoll
// on the socket), spin (poll again at once) or block. On a quiet machine the three move
// the same; when other work shares the cores, a spinning thread that waits burns the time
// slice its peer needs (with a build on both cores: spin 11, backoff 22, block 28 Gbit/s).
//
// The send buffer is the library's default (ConnectionConfig::stream_send_capacity, 1 MiB):
// what a user gets, and what loopback favours, since less data in flight stays in the
// cores' caches on both sides (4 MiB, Linux's ceiling for a TCP send buffer, moved 7-11%
// less). The stream window (the receiver's credit) defaults to 16 MiB and the connection's
// to twice that.
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "transport/idle_strategy.h"
#include "transport/io_select.h"
#include "transport/node.h"

using namespace dwcp::transport;

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Options {
  std::uint64_t bytes = std::uint64_t{2} << 30;
  std::size_t message = std::size_t{64} * 1024;
  CongestionAlgorithm cc = CongestionAlgorithm::bbr;
  Bandwidth rate = 0;
  std::size_t send_buffer = ConnectionConfig{}.stream_send_capacity;
  std::size_t window = std::size_t{16} << 20;
  IdleMode idle = IdleMode::backoff;
  BackendKind io = BackendKind::automatic;
  ZerocopyMode zerocopy = ZerocopyMode::automatic;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "transport_bulk: %s\nusage: transport_bulk [--bytes N] [--message BYTES] "
               "[--cc bbr|cubic|fixed] [--rate BYTES_PER_S] [--send-buffer BYTES] "
               "[--window BYTES] [--idle spin|backoff|block] "
               "[--io auto|mmsg+gso|mmsg|plain|uring] [--zerocopy auto|on|off]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage("a flag without its value");
    const char* value = argv[++i];
    char* end = nullptr;
    if (flag == "--bytes") {
      o.bytes = std::strtoull(value, &end, 10);
    } else if (flag == "--message") {
      o.message = std::strtoull(value, &end, 10);
    } else if (flag == "--rate") {
      o.rate = std::strtoull(value, &end, 10);
    } else if (flag == "--send-buffer") {
      o.send_buffer = std::strtoull(value, &end, 10);
    } else if (flag == "--window") {
      o.window = std::strtoull(value, &end, 10);
    } else if (flag == "--io") {
      if (!parse_backend_kind(value, o.io))
        usage("--io takes auto, mmsg+gso, mmsg, plain or uring");
      continue;
    } else if (flag == "--zerocopy") {
      if (!parse_zerocopy_mode(value, o.zerocopy)) usage("--zerocopy takes auto, on or off");
      continue;
    } else if (flag == "--idle") {
      if (!parse_idle_mode(value, o.idle)) usage("--idle takes spin, backoff or block");
      continue;
    } else if (flag == "--cc") {
      auto cc = parse_congestion_algorithm(value);
      if (!cc) usage("--cc takes bbr, cubic or fixed");
      o.cc = *cc;
      continue;
    } else {
      usage("unknown flag");
    }
    if (end == value || *end != '\0') usage("a number was expected");
  }
  if (o.message == 0 || o.bytes == 0 || o.send_buffer == 0 || o.window == 0) {
    usage("sizes must be positive");
  }
  if (o.cc == CongestionAlgorithm::fixed && o.rate == 0) usage("--cc fixed needs --rate");
  return o;
}

// Whether a poll moved any datagram.
bool did_work(const NodeCounters& before, const NodeCounters& after) {
  return after.datagrams_received != before.datagrams_received ||
         after.datagrams_sent != before.datagrams_sent;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  SocketOptions socket_options;
  socket_options.zerocopy = options.zerocopy;
  auto server_io = open_backend(SocketAddress::loopback_v4(0), socket_options, options.io);
  auto client_io = open_backend(SocketAddress::loopback_v4(0), socket_options, options.io);
  if (!server_io || !client_io) {
    std::fprintf(stderr, "transport_bulk: cannot open loopback sockets with --io %s: %s\n",
                 std::string(to_string(options.io)).c_str(),
                 to_string(server_io ? client_io.error() : server_io.error()).c_str());
    return 1;
  }
  std::printf("backend: %s\n", server_io->reason.c_str());
  NodeConfig config;
  config.connection.congestion = options.cc;
  config.connection.fixed_rate = options.rate;
  config.connection.params.initial_max_stream_data = options.window;
  config.connection.params.initial_max_data = 2 * options.window;
  config.connection.stream_send_capacity = options.send_buffer;
  NodeConfig server_config = config;
  server_config.accept_connections = true;
  const SocketAddress server_address = server_io->backend->local_address();

  std::atomic<bool> receiver_done{false};
  std::atomic<bool> give_up{false};
  std::uint64_t received = 0;
  double receiver_cpu = 0;
  std::thread receiver([&] {
    Node node(*server_io->backend, server_config);
    Connection* connection = nullptr;
    node.on_accept([&](Connection& c, const SocketAddress&) {
      connection = &c;
      return true;
    });
    std::vector<std::byte> buffer(options.message);
    const double cpu_start = thread_cpu_seconds();
    auto idle = IdleStrategy::create(options.idle, server_io->backend->fd());
    if (!idle) {
      std::fprintf(stderr, "transport_bulk: %s failed\n", idle.error().op);
      give_up = true;
    }
    while (!give_up.load(std::memory_order_relaxed) && received < options.bytes) {
      (*idle)->begin_pass();
      const NodeCounters before = node.counters();
      const std::uint64_t received_before = received;
      const auto deadline = node.poll(MonotonicClock::now());
      if (connection != nullptr) {
        for (std::uint64_t id : connection->readable_streams()) {
          while (auto size = connection->read_message(id, buffer)) received += *size;
        }
      }
      (*idle)->idle(did_work(before, node.counters()) || received != received_before, deadline,
                    MonotonicClock::now());
    }
    // Let the last ACKs out.
    for (int i = 0; i < 1000; ++i) node.poll(MonotonicClock::now());
    receiver_cpu = thread_cpu_seconds() - cpu_start;
    receiver_done = true;
  });

  Node node(*client_io->backend, config);
  Connection& connection = node.connect(server_address, MonotonicClock::now());
  std::vector<std::byte> message(options.message, std::byte{0x5a});
  std::optional<std::uint64_t> stream;
  std::uint64_t queued = 0;
  const double cpu_start = thread_cpu_seconds();
  const Instant start = MonotonicClock::now();
  const Instant deadline = start + std::chrono::seconds(120);
  auto idle = IdleStrategy::create(options.idle, client_io->backend->fd());
  if (!idle) {
    std::fprintf(stderr, "transport_bulk: %s failed\n", idle.error().op);
    give_up = true;
  }
  while (idle && !receiver_done.load(std::memory_order_relaxed)) {
    const Instant now = MonotonicClock::now();
    if (now > deadline) {
      give_up = true;
      break;
    }
    (*idle)->begin_pass();
    const NodeCounters before = node.counters();
    const std::uint64_t queued_before = queued;
    if (!stream && connection.state() == ConnectionState::established)
      stream = connection.open_stream();
    while (stream && queued < options.bytes &&
           connection.send_message(*stream, message) == AppendStatus::accepted) {
      queued += message.size();
    }
    const auto next = node.poll(now);
    // The receiver's last ACKs may be all that is left: wake at least every millisecond to
    // see receiver_done.
    const Instant limit = MonotonicClock::now() + std::chrono::milliseconds(1);
    (*idle)->idle(did_work(before, node.counters()) || queued != queued_before,
                  next ? std::min(*next, limit) : limit, MonotonicClock::now());
  }
  const double seconds = std::chrono::duration<double>(MonotonicClock::now() - start).count();
  const double sender_cpu = thread_cpu_seconds() - cpu_start;
  receiver.join();
  const auto stats = connection.stats();
  const double gbits = static_cast<double>(received) * 8 / seconds / 1e9;
  std::printf("dwcp %s: %llu bytes in %.3f s = %.2f Gbit/s\n",
              std::string(to_string(options.cc)).c_str(), static_cast<unsigned long long>(received),
              seconds, gbits);
  std::printf("cpu: sender %.2f s (%.2f ns/byte), receiver %.2f s (%.2f ns/byte)\n", sender_cpu,
              sender_cpu * 1e9 / static_cast<double>(received), receiver_cpu,
              receiver_cpu * 1e9 / static_cast<double>(received));
  std::printf(
      "packets sent %llu, lost %llu, spurious %llu, retransmitted %llu bytes, srtt %.1f us, "
      "cwnd %llu, pacing %.2f Gbit/s, send errors %llu, flow-control stalls %llu\n",
      static_cast<unsigned long long>(stats.packets_sent),
      static_cast<unsigned long long>(stats.packets_lost),
      static_cast<unsigned long long>(stats.spurious_losses),
      static_cast<unsigned long long>(stats.stream_bytes_retransmitted),
      std::chrono::duration<double, std::micro>(stats.smoothed_rtt).count(),
      static_cast<unsigned long long>(stats.congestion_window),
      static_cast<double>(stats.pacing_rate) * 8 / 1e9,
      static_cast<unsigned long long>(node.counters().send_errors),
      static_cast<unsigned long long>(stats.flow_control_stalls));
  const IoStatistics io_stats = client_io->backend->statistics();
  std::printf("zerocopy: sends %llu, copied %llu, late %llu, %s\n",
              static_cast<unsigned long long>(io_stats.zerocopy_sends),
              static_cast<unsigned long long>(io_stats.zerocopy_copied),
              static_cast<unsigned long long>(io_stats.zerocopy_late),
              io_stats.zerocopy_turned_off                  ? "turned off"
              : client_io->backend->capabilities().zerocopy ? "on"
                                                            : "off");
  return received >= options.bytes ? 0 : 1;
}
