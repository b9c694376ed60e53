// Message rate of one dwcp stream over loopback through the public API: the sending thread
// loops Stream::send() as fast as it is accepted (when back_pressured it spins, yields,
// then waits in Connection::wait() for room), and the receiver counts whole messages,
// either in the server's on_message callback (on its I/O thread; the default) or on a
// thread of its own draining the stream with peek/release.
// Each message carries its sequence number, and the receiver checks the order. The rate is
// messages received over the time from the first send to the last message received.
//
//   transport_messages [--size BYTES] [--seconds S] [--count N] [--idle spin|backoff|block]
//                      [--receive callback|peek] [--json]
//
// Sends for --seconds (default 3), or until --count messages when that comes first.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "transport/api/node.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::size_t size = 64;
  double seconds = 3;
  std::uint64_t count = 0;  // 0: as many as --seconds allows
  dwcp::transport::IdleMode idle = dwcp::transport::IdleMode::backoff;
  bool peek_thread = false;
  bool json = false;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "transport_messages: %s\nusage: transport_messages [--size BYTES] [--seconds S] "
               "[--count N] [--idle spin|backoff|block] [--receive callback|peek] [--json]\n",
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
    if (flag == "--receive") {
      const std::string_view how = value;
      if (how != "callback" && how != "peek") usage("--receive takes callback or peek");
      o.peek_thread = how == "peek";
      continue;
    }
    if (flag == "--size") {
      o.size = std::strtoull(value, &end, 10);
    } else if (flag == "--seconds") {
      o.seconds = std::strtod(value, &end);
    } else if (flag == "--count") {
      o.count = std::strtoull(value, &end, 10);
    } else {
      usage("unknown flag");
    }
    if (end == value || *end != '\0') usage("a number was expected");
  }
  if (o.size < 8) usage("--size is at least 8 (the sequence number)");
  if (!(o.seconds > 0) || o.seconds > 600) usage("--seconds is in (0, 600]");
  return o;
}

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

dwcp::NodeOptions node_options(dwcp::transport::IdleMode idle) {
  dwcp::NodeOptions options;
  options.bind = dwcp::transport::SocketAddress::loopback_v4(0);
  options.idle = idle;
  return options;
}

// What the receiving side saw. Written by one thread (the I/O thread or the peek thread).
struct Received {
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::uint64_t> out_of_order{0};
  std::uint64_t next = 0;  // receiving thread only

  void take(std::span<const std::byte> bytes, std::size_t size) noexcept {
    std::uint64_t sequence = ~std::uint64_t{0};
    if (bytes.size() >= sizeof sequence) std::memcpy(&sequence, bytes.data(), sizeof sequence);
    if (sequence != next || bytes.size() != size) {
      out_of_order.fetch_add(1, std::memory_order_relaxed);
    }
    next = sequence + 1;
    messages.store(messages.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  Received received;

  dwcp::NodeOptions server_options = node_options(options.idle);
  server_options.accept_connections = true;
  if (!options.peek_thread) {
    server_options.on_accept = [](dwcp::Connection&) { return true; };
    server_options.on_message = [&](dwcp::Stream&, std::span<const std::byte> bytes) {
      received.take(bytes, options.size);
    };
  }
  auto server = dwcp::Node::start(server_options);
  if (!server) {
    std::fprintf(stderr, "transport_messages: server: %s\n", server.error().c_str());
    return 1;
  }
  auto client = dwcp::Node::start(node_options(options.idle));
  if (!client) {
    std::fprintf(stderr, "transport_messages: client: %s\n", client.error().c_str());
    return 1;
  }
  dwcp::Connection connection = (*client)->connect((*server)->local_address());
  if (!connection.wait_established(5s)) {
    std::fprintf(stderr, "transport_messages: no connection within 5 s\n");
    return 1;
  }
  auto opened = connection.open_stream();
  if (!opened) {
    std::fprintf(stderr, "transport_messages: open_stream: %s\n",
                 std::string(dwcp::to_string(opened.error())).c_str());
    return 1;
  }
  dwcp::Stream stream = *opened;
  if (stream.max_message_size() < options.size) {
    std::fprintf(stderr, "transport_messages: --size %zu is above the largest message, %zu\n",
                 options.size, stream.max_message_size());
    return 2;
  }

  // Set once the sender knows how many messages it sent; the receivers stop when all came.
  std::atomic<bool> give_up{false};
  std::thread peek_thread;
  if (options.peek_thread) {
    peek_thread = std::thread([&] {
      auto accepted = (*server)->accept(5s);
      if (!accepted) return;
      dwcp::Connection server_side = *accepted;
      dwcp::Stream incoming;
      std::uint32_t idle_polls = 0;
      while (!give_up.load(std::memory_order_relaxed)) {
        if (!incoming) {
          if (auto s = server_side.accept_stream()) incoming = *s;
        }
        bool any = false;
        if (incoming) {
          for (auto bytes = incoming.peek(); !bytes.empty(); bytes = incoming.peek()) {
            received.take(bytes, options.size);
            incoming.release();
            any = true;
          }
        }
        // Two cores carry four threads here: yield after a short spin.
        if (any) {
          idle_polls = 0;
        } else if (++idle_polls < 256) {
          cpu_relax();
        } else {
          std::this_thread::yield();
        }
      }
    });
  }

  // Back-pressured: spin a little, yield a little, then wait to be told of room.
  constexpr std::uint32_t kSpinPolls = 256;
  constexpr std::uint32_t kYieldPolls = 8;
  std::vector<std::byte> message(options.size, std::byte{0x5a});
  const std::uint64_t limit = options.count == 0 ? ~std::uint64_t{0} : options.count;
  const auto start = Clock::now();
  const auto send_until = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options.seconds));
  std::uint64_t sent = 0;
  std::uint64_t back_pressured = 0;
  const char* failure = nullptr;
  std::uint32_t idle_polls = 0;
  for (std::uint64_t attempt = 0; sent < limit; ++attempt) {
    if ((attempt & 0x3ff) == 0 && Clock::now() >= send_until) break;
    std::memcpy(message.data(), &sent, sizeof sent);
    // Read before the send, so that room freed after a refusal ends the wait below.
    const std::uint64_t seen = idle_polls >= kSpinPolls + kYieldPolls ? connection.events() : 0;
    const dwcp::SendStatus status = stream.send(message);
    if (status == dwcp::SendStatus::accepted) {
      ++sent;
      idle_polls = 0;
    } else if (status == dwcp::SendStatus::back_pressured) {
      ++back_pressured;
      if (++idle_polls <= kSpinPolls) {
        cpu_relax();
      } else if (idle_polls <= kSpinPolls + kYieldPolls) {
        std::this_thread::yield();
      } else {
        // The queue stays full: sleep until the I/O thread frees half of it, as an app
        // should, rather than take the core from it with more yields.
        connection.wait(seen, 1ms);
      }
    } else {
      failure = "send failed";
      std::fprintf(stderr, "transport_messages: send: %s\n",
                   std::string(dwcp::to_string(status)).c_str());
      break;
    }
  }
  const auto sent_at = Clock::now();
  // Wait (bounded) for the receiver to see every message.
  const auto drain_deadline = sent_at + 10s;
  while (received.messages.load(std::memory_order_acquire) < sent && failure == nullptr) {
    if (Clock::now() > drain_deadline) {
      failure = "not every message arrived within 10 s";
      break;
    }
    std::this_thread::sleep_for(20us);
  }
  const auto end = Clock::now();
  give_up = true;
  if (peek_thread.joinable()) peek_thread.join();

  const auto stats = connection.stats();
  connection.close();
  (*client)->stop();
  (*server)->stop();

  const std::uint64_t got = received.messages.load();
  const double seconds = std::chrono::duration<double>(end - start).count();
  const double send_seconds = std::chrono::duration<double>(sent_at - start).count();
  const double rate = static_cast<double>(got) / seconds;
  const double gbits = rate * static_cast<double>(options.size) * 8 / 1e9;
  const double per_packet = stats.packets_sent == 0 ? 0
                                                    : static_cast<double>(stats.stream_bytes_sent) /
                                                          static_cast<double>(stats.packets_sent);
  const std::string idle(dwcp::transport::to_string(options.idle));
  const char* how = options.peek_thread ? "peek" : "callback";
  if (options.json) {
    std::printf(
        "{\"bench\": \"transport_messages\", \"idle\": \"%s\", \"receive\": \"%s\", \"size\": %zu, "
        "\"sent\": %llu, \"received\": %llu, \"out_of_order\": %llu, \"seconds\": %.4f, "
        "\"send_seconds\": %.4f, \"msgs_per_s\": %.0f, \"gbit_per_s\": %.4f, "
        "\"back_pressured\": %llu, \"packets_sent\": %llu, \"packets_lost\": %llu, "
        "\"stream_bytes_per_packet\": %.1f, \"ok\": %s}\n",
        idle.c_str(), how, options.size, static_cast<unsigned long long>(sent),
        static_cast<unsigned long long>(got),
        static_cast<unsigned long long>(received.out_of_order.load()), seconds, send_seconds, rate,
        gbits, static_cast<unsigned long long>(back_pressured),
        static_cast<unsigned long long>(stats.packets_sent),
        static_cast<unsigned long long>(stats.packets_lost), per_packet,
        failure == nullptr ? "true" : "false");
  } else {
    std::printf("backend: %s\n", (*client)->backend().c_str());
    std::printf("dwcp messages, idle %s, receive %s, %zu-byte messages\n", idle.c_str(), how,
                options.size);
    std::printf("%llu sent, %llu received in %.3f s = %.3f M msg/s, %.3f Gbit/s (payload)\n",
                static_cast<unsigned long long>(sent), static_cast<unsigned long long>(got),
                seconds, rate / 1e6, gbits);
    std::printf(
        "back-pressured sends %llu, packets sent %llu, lost %llu, %.0f stream bytes per packet, "
        "out of order %llu\n",
        static_cast<unsigned long long>(back_pressured),
        static_cast<unsigned long long>(stats.packets_sent),
        static_cast<unsigned long long>(stats.packets_lost), per_packet,
        static_cast<unsigned long long>(received.out_of_order.load()));
    std::printf(
        "srtt %.1f us, min rtt %.1f us, cwnd %llu, pacing %.3f Gbit/s, probe timeouts %llu, "
        "flow-control stalls %llu\n",
        std::chrono::duration<double, std::micro>(stats.smoothed_rtt).count(),
        std::chrono::duration<double, std::micro>(stats.min_rtt).count(),
        static_cast<unsigned long long>(stats.congestion_window),
        static_cast<double>(stats.pacing_rate) * 8 / 1e9,
        static_cast<unsigned long long>(stats.probe_timeouts),
        static_cast<unsigned long long>(stats.flow_control_stalls));
  }
  if (failure != nullptr) {
    std::fprintf(stderr, "transport_messages: %s (sent %llu, received %llu)\n", failure,
                 static_cast<unsigned long long>(sent), static_cast<unsigned long long>(got));
    return 1;
  }
  return received.out_of_order.load() == 0 ? 0 : 1;
}
