// Loopback UDP throughput of the I/O backends at 1472-byte datagrams: plain (one sendmsg
// per datagram), mmsg (one sendmmsg per 64), and mmsg+GSO (64 datagrams in two GSO
// buffers of 32 per sendmmsg) received without and with GRO. The plain backend is the peer: it is
// what raw UDP code does. A receiver thread drains the socket with the same backend
// kind, so received/s (and the loss column) show what actually arrived.
//
// MACHINE.md's raw figures to compare with: 3.85 Gbit/s with sendmmsg batches, 16 Gbit/s
// with GSO and no GRO, ~96 Gbit/s with GSO and GRO.
#include <benchmark/benchmark.h>
#include <poll.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "transport/io_mmsg.h"
#include "transport/io_plain.h"
#include "transport/io_select.h"

namespace {

using namespace dwcp::transport;

constexpr std::size_t kDatagram = 1472;
constexpr std::size_t kPerIteration = 64;

enum class Mode { plain, mmsg, mmsg_gso, mmsg_gso_no_gro };

std::unique_ptr<IoBackend> open(Mode mode, bool gro) {
  SocketOptions options;
  options.gro = gro;
  auto s = UdpSocket::open(SocketAddress::loopback_v4(0), options);
  if (!s) return nullptr;
  if (mode == Mode::plain) return std::make_unique<PlainBackend>(std::move(*s));
  return std::make_unique<MmsgBackend>(std::move(*s), mode == Mode::mmsg ? 1 : kMaxGsoSegments);
}

void bm_loopback(benchmark::State& state, Mode mode) {
  const bool gso = mode == Mode::mmsg_gso || mode == Mode::mmsg_gso_no_gro;
  auto tx = open(mode, false);
  auto rx = open(mode, mode == Mode::mmsg_gso);
  if (!tx || !rx) {
    state.SkipWithError("no loopback socket");
    return;
  }
  if (gso) {
    auto probe = UdpSocket::open(SocketAddress::loopback_v4(0));
    if (!probe || !probe_gso(*probe).supported) {
      state.SkipWithError("kernel refuses UDP GSO");
      return;
    }
  }

  // The receiver drains until the sender has finished (draining) and either everything
  // sent has arrived or the socket has stayed empty for 10 ms.
  std::atomic<bool> draining{false};
  std::atomic<std::uint64_t> target{0};
  std::atomic<std::uint64_t> received{0};
  std::thread receiver([&] {
    std::vector<std::vector<std::byte>> storage(kMaxBatch, std::vector<std::byte>(kMaxUdpPayload));
    std::vector<RxDatagram> slots;
    slots.reserve(storage.size());
    for (auto& s : storage) slots.emplace_back(s);
    for (;;) {
      const auto r = rx->receive(slots);
      if (!r) {
        if (draining.load() && received.load() >= target.load()) break;
        pollfd pfd{rx->fd(), POLLIN, 0};
        if (::poll(&pfd, 1, 10) == 0 && draining.load()) break;
        continue;
      }
      std::uint64_t n = 0;
      for (std::size_t i = 0; i < *r; ++i) n += slots[i].segment_count();
      received.fetch_add(n, std::memory_order_relaxed);
    }
  });

  std::vector<std::byte> payload(kDatagram * kPerIteration);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i);
  std::vector<TxDatagram> batch;
  if (gso) {
    const std::size_t half = kPerIteration / 2;
    batch.push_back(TxDatagram{rx->local_address(), std::span(payload).first(half * kDatagram),
                               static_cast<std::uint16_t>(kDatagram)});
    batch.push_back(TxDatagram{rx->local_address(), std::span(payload).subspan(half * kDatagram),
                               static_cast<std::uint16_t>(kDatagram)});
  } else {
    for (std::size_t i = 0; i < kPerIteration; ++i) {
      batch.push_back(
          TxDatagram{rx->local_address(), std::span(payload).subspan(i * kDatagram, kDatagram), 0});
    }
  }

  std::uint64_t sent = 0;
  std::uint64_t blocked = 0;
  for (auto _ : state) {
    std::size_t at = 0;
    for (int attempt = 0; attempt < 1000 && at < batch.size(); ++attempt) {
      const auto r = tx->send(std::span(batch).subspan(at));
      if (!r) {
        if (is_fatal(r.error().code) || r.error().code == IoErrc::gso_refused) {
          state.SkipWithError(to_string(r.error()).c_str());
          break;
        }
        ++blocked;
        continue;
      }
      at += *r;
    }
    for (std::size_t i = 0; i < at; ++i) sent += batch[i].datagram_count();
  }
  target.store(sent);
  draining.store(true);
  receiver.join();
  const double got = static_cast<double>(received.load());
  state.counters["sent_pps"] =
      benchmark::Counter(static_cast<double>(sent), benchmark::Counter::kIsRate);
  state.counters["recv_pps"] = benchmark::Counter(got, benchmark::Counter::kIsRate);
  state.counters["recv_Gbps"] =
      benchmark::Counter(got * kDatagram * 8 / 1e9, benchmark::Counter::kIsRate);
  state.counters["loss_pct"] = sent == 0 ? 0.0 : 100.0 * (1.0 - got / static_cast<double>(sent));
  state.counters["would_block"] = static_cast<double>(blocked);
}

}  // namespace

BENCHMARK_CAPTURE(bm_loopback, plain, Mode::plain)->UseRealTime()->MinTime(1.0);
BENCHMARK_CAPTURE(bm_loopback, mmsg, Mode::mmsg)->UseRealTime()->MinTime(1.0);
BENCHMARK_CAPTURE(bm_loopback, mmsg_gso_no_gro, Mode::mmsg_gso_no_gro)->UseRealTime()->MinTime(1.0);
BENCHMARK_CAPTURE(bm_loopback, mmsg_gso_gro, Mode::mmsg_gso)->UseRealTime()->MinTime(1.0);

BENCHMARK_MAIN();
