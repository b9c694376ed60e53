// Throughput and round-trip latency of dwcp's rings against their peers, between the
// machine's two cores.
//
// Every case runs its threads itself rather than through benchmark's ->Threads(): the
// benchmark's own thread is the producer (or the ping side) pinned to CPU 0, and helper
// threads pinned to CPU 0 or 1 do the rest, so producer and consumer sit on different
// cores. Streaming cases move a fixed number of uint64_t per benchmark iteration; the
// consumer checks it saw exactly that many, in order (per producer with two producers).
// Ping-pong cases send one token per iteration out on one queue and back on another.
//
// Peers, all bounded to the same capacity: boost::lockfree::spsc_queue and
// boost::lockfree::queue (when built with Boost), and std::mutex + std::deque.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#if DWCP_HAVE_BOOST
#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#endif

#include "affinity/cpu_set.h"
#include "affinity/pinning.h"
#include "bench/bench_support.h"
#include "lockfree/mpmc_ring.h"
#include "lockfree/spsc_ring.h"

namespace {

using dwcp::bench::Backoff;
using dwcp::bench::cpu_relax;
using dwcp::bench::pin_to;
using dwcp::bench::ScopedPin;

namespace lf = dwcp::lockfree;

// Every queue under test holds this many items (boost::lockfree::queue needs it at
// compile time).
constexpr std::size_t kCapacity = 4096;
constexpr std::size_t kBatch = 64;
constexpr std::uint64_t kStopToken = ~std::uint64_t{0};
constexpr int kProducerCpu = 0;
constexpr int kConsumerCpu = 1;

// The first error of a case, from whichever thread saw it.
class Failure {
 public:
  void set(std::string message) {
    std::lock_guard lock(mutex_);
    if (!failed_.load(std::memory_order_relaxed)) {
      message_ = std::move(message);
      failed_.store(true, std::memory_order_release);
    }
  }
  [[nodiscard]] bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }
  [[nodiscard]] std::string message() const {
    std::lock_guard lock(mutex_);
    return message_;
  }

 private:
  std::atomic<bool> failed_{false};
  mutable std::mutex mutex_;
  std::string message_;
};

// Helper threads, one per entry of `cpus`, each pinned to its CPU. Each round the main
// thread calls start_round(), does its own share, then wait_round(); every helper runs
// body(helper_index) once per round. The threads start before the timed loop and are
// joined when the Crew goes.
class Crew {
 public:
  Crew(std::vector<int> cpus, std::function<void(std::size_t)> body, Failure& failure)
      : body_(std::move(body)), failure_(failure) {
    threads_.reserve(cpus.size());
    for (std::size_t i = 0; i < cpus.size(); ++i) {
      threads_.emplace_back([this, i, cpu = cpus[i]] { run(i, cpu); });
    }
    while (ready_.load(std::memory_order_acquire) != threads_.size()) cpu_relax();
  }
  Crew(const Crew&) = delete;
  Crew& operator=(const Crew&) = delete;
  ~Crew() {
    stop_.store(true, std::memory_order_release);
    for (auto& t : threads_) t.join();
  }

  void start_round() noexcept {
    finished_.store(0, std::memory_order_relaxed);
    // Publishes whatever the main thread reset for this round; pairs with the acquire
    // load in run().
    round_.fetch_add(1, std::memory_order_release);
  }

  // Returns false if a helper stalled.
  [[nodiscard]] bool wait_round() noexcept {
    Backoff backoff;
    while (finished_.load(std::memory_order_acquire) != threads_.size()) {
      if (!backoff.wait()) {
        failure_.set("a helper thread stalled");
        return false;
      }
    }
    return true;
  }

 private:
  void run(std::size_t index, int cpu) {
    if (auto error = pin_to(cpu)) {
      failure_.set(*error);
      ready_.fetch_add(1, std::memory_order_release);
      return;
    }
    ready_.fetch_add(1, std::memory_order_release);
    std::uint64_t seen = 0;
    for (;;) {
      std::uint64_t round = round_.load(std::memory_order_acquire);
      while (round == seen && !stop_.load(std::memory_order_acquire)) {
        std::this_thread::yield();
        round = round_.load(std::memory_order_acquire);
      }
      if (round == seen) return;  // stopped
      seen = round;
      if (!failure_.failed()) body_(index);
      finished_.fetch_add(1, std::memory_order_release);
    }
  }

  std::function<void(std::size_t)> body_;
  Failure& failure_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> ready_{0};
  std::atomic<std::uint64_t> round_{0};
  std::atomic<std::size_t> finished_{0};
  std::atomic<bool> stop_{false};
};

// ---- Queues under test, behind one shape -------------------------------------------------

struct SpscRingQueue {
  static constexpr const char* kName = "spsc_ring";
  lf::SpscRing<std::uint64_t> ring{kCapacity};
  bool try_push(std::uint64_t v) noexcept { return ring.try_push(v); }
  bool try_pop(std::uint64_t& v) noexcept { return ring.try_pop(v); }
  std::size_t push_batch(std::uint64_t* p, std::size_t n) noexcept { return ring.push_n(p, n); }
  std::size_t pop_batch(std::uint64_t* p, std::size_t n) noexcept { return ring.pop_n(p, n); }
};

struct MpmcRingQueue {
  static constexpr const char* kName = "mpmc_ring";
  lf::MpmcRing<std::uint64_t> ring{kCapacity};
  bool try_push(std::uint64_t v) noexcept { return ring.try_push(v); }
  bool try_pop(std::uint64_t& v) noexcept { return ring.try_pop(v); }
  std::size_t push_batch(std::uint64_t* p, std::size_t n) noexcept { return ring.push_n(p, n); }
  std::size_t pop_batch(std::uint64_t* p, std::size_t n) noexcept { return ring.pop_n(p, n); }
};

// The usual lock-based baseline, bounded like the others.
struct MutexDequeQueue {
  static constexpr const char* kName = "mutex_deque";
  std::mutex mutex;
  std::deque<std::uint64_t> items;
  bool try_push(std::uint64_t v) {
    std::lock_guard lock(mutex);
    if (items.size() >= kCapacity) return false;
    items.push_back(v);
    return true;
  }
  bool try_pop(std::uint64_t& v) {
    std::lock_guard lock(mutex);
    if (items.empty()) return false;
    v = items.front();
    items.pop_front();
    return true;
  }
};

#if DWCP_HAVE_BOOST
struct BoostSpscQueue {
  static constexpr const char* kName = "boost_spsc_queue";
  boost::lockfree::spsc_queue<std::uint64_t> queue{kCapacity};
  bool try_push(std::uint64_t v) noexcept { return queue.push(v); }
  bool try_pop(std::uint64_t& v) noexcept { return queue.pop(v); }
  std::size_t push_batch(std::uint64_t* p, std::size_t n) noexcept { return queue.push(p, n); }
  std::size_t pop_batch(std::uint64_t* p, std::size_t n) noexcept { return queue.pop(p, n); }
};

struct BoostQueue {
  static constexpr const char* kName = "boost_queue";
  boost::lockfree::queue<std::uint64_t, boost::lockfree::capacity<kCapacity>> queue;
  bool try_push(std::uint64_t v) noexcept { return queue.bounded_push(v); }
  bool try_pop(std::uint64_t& v) noexcept { return queue.pop(v); }
};
#endif

enum class Mode { single, batched };

template <typename Q>
constexpr bool kHasBatch = requires(Q q, std::uint64_t* p) {
  q.push_batch(p, std::size_t{1});
};

// ---- Producers and consumers -------------------------------------------------------------

// Items carry the producer's id in the top 16 bits and its sequence number below.
constexpr int kTagShift = 48;
constexpr std::uint64_t kSeqMask = (std::uint64_t{1} << kTagShift) - 1;

template <typename Q>
bool produce(Q& q, Mode mode, std::uint64_t producer, std::uint64_t count, Failure& failure) {
  const std::uint64_t tag = producer << kTagShift;
  Backoff backoff;
  if (mode == Mode::single || !kHasBatch<Q>) {
    for (std::uint64_t seq = 0; seq < count; ++seq) {
      while (!q.try_push(tag | seq)) {
        if (!backoff.wait() || failure.failed()) return false;
      }
      backoff.reset();
    }
    return true;
  }
  if constexpr (kHasBatch<Q>) {
    std::uint64_t batch[kBatch];
    for (std::uint64_t seq = 0; seq < count;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, count - seq));
      for (std::size_t i = 0; i < n; ++i) batch[i] = tag | (seq + i);
      for (std::size_t done = 0; done < n;) {
        const std::size_t pushed = q.push_batch(batch + done, n - done);
        if (pushed == 0) {
          if (!backoff.wait() || failure.failed()) return false;
          continue;
        }
        backoff.reset();
        done += pushed;
      }
      seq += n;
    }
  }
  return true;
}

// Checks one consumer's view: per producer, strictly increasing sequence numbers (for a
// single producer and consumer, exactly 0, 1, 2, ...).
class OrderCheck {
 public:
  explicit OrderCheck(bool exact) : exact_(exact) {}
  void see(std::uint64_t v) noexcept {
    benchmark::DoNotOptimize(v);
    const std::uint64_t producer = v >> kTagShift;
    const std::uint64_t seq = v & kSeqMask;
    ++count_;
    sum_ += v;
    if (producer >= 2) {
      bad_ = true;
    } else if (exact_) {
      if (seq != next_[0] || producer != 0) bad_ = true;
      ++next_[0];
    } else {
      if (seq < next_[producer]) bad_ = true;
      next_[producer] = seq + 1;
    }
  }
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t sum() const noexcept { return sum_; }
  [[nodiscard]] bool bad() const noexcept { return bad_; }

 private:
  bool exact_;
  bool bad_ = false;
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t next_[2] = {0, 0};
};

// What the consumers of one round report back. On its own lines: it lives in the producer's
// stack frame, and consumers write it while the producer works.
struct alignas(lf::kFalseSharingRange) RoundTally {
  std::atomic<std::uint64_t> consumed{0};
  std::atomic<std::uint64_t> sum{0};
  std::atomic<bool> out_of_order{false};
  void reset() noexcept {
    consumed.store(0, std::memory_order_relaxed);
    sum.store(0, std::memory_order_relaxed);
    out_of_order.store(false, std::memory_order_relaxed);
  }
};

// Pops until all `total` items of the round are consumed, by this consumer or another.
template <typename Q>
void consume(Q& q, Mode mode, std::uint64_t total, bool exact, RoundTally& tally,
             Failure& failure) {
  OrderCheck check(exact);
  Backoff backoff;
  std::uint64_t unflushed = 0;
  // Shared progress is published every so often, and whenever the queue looks empty, so
  // consumers learn the round is over without a shared write per item.
  auto flush_and_done = [&]() noexcept {
    if (unflushed == 0) return tally.consumed.load(std::memory_order_acquire) >= total;
    const std::uint64_t now =
        tally.consumed.fetch_add(unflushed, std::memory_order_acq_rel) + unflushed;
    unflushed = 0;
    return now >= total;
  };
  for (;;) {
    std::size_t got = 0;
    if (mode == Mode::batched && kHasBatch<Q>) {
      if constexpr (kHasBatch<Q>) {
        std::uint64_t batch[kBatch];
        got = q.pop_batch(batch, kBatch);
        for (std::size_t i = 0; i < got; ++i) check.see(batch[i]);
      }
    } else {
      std::uint64_t v;
      if (q.try_pop(v)) {
        check.see(v);
        got = 1;
      }
    }
    if (got != 0) {
      backoff.reset();
      unflushed += got;
      if (unflushed >= 1024 && flush_and_done()) break;
      continue;
    }
    if (flush_and_done()) break;
    if (!backoff.wait() || failure.failed()) {
      failure.set("consumer stalled after " + std::to_string(check.count()) + " items");
      break;
    }
  }
  tally.sum.fetch_add(check.sum(), std::memory_order_relaxed);
  if (check.bad()) tally.out_of_order.store(true, std::memory_order_relaxed);
}

std::uint64_t expected_sum(std::uint64_t producers, std::uint64_t per_producer) {
  std::uint64_t sum = 0;
  for (std::uint64_t p = 0; p < producers; ++p) {
    sum += per_producer * (p << kTagShift) + per_producer * (per_producer - 1) / 2;
  }
  return sum;
}

// ---- Cases -------------------------------------------------------------------------------

// producers producers and as many consumers. The main thread is producer 0 on CPU 0; the
// other producer shares CPU 0, the consumers share CPU 1.
template <typename Q>
void bm_stream(benchmark::State& state, Mode mode, int producers, std::uint64_t items) {
  ScopedPin pin(kProducerCpu);
  if (pin.error()) {
    state.SkipWithError(pin.error()->c_str());
    return;
  }
  auto queue = std::make_unique<Q>();
  const std::uint64_t per_producer = items / static_cast<std::uint64_t>(producers);
  const std::uint64_t total = per_producer * static_cast<std::uint64_t>(producers);
  const bool exact = producers == 1;
  Failure failure;
  RoundTally tally;

  std::vector<int> cpus;
  for (int p = 1; p < producers; ++p) cpus.push_back(kProducerCpu);
  for (int c = 0; c < producers; ++c) cpus.push_back(kConsumerCpu);
  const auto helper_producers = static_cast<std::size_t>(producers - 1);
  Crew crew(
      cpus,
      [&](std::size_t i) {
        if (i < helper_producers) {
          if (!produce(*queue, mode, i + 1, per_producer, failure)) {
            failure.set("producer stalled");
          }
        } else {
          consume(*queue, mode, total, exact, tally, failure);
        }
      },
      failure);
  if (failure.failed()) {
    state.SkipWithError(failure.message().c_str());
    return;
  }

  for (auto _ : state) {
    tally.reset();
    crew.start_round();
    if (!produce(*queue, mode, 0, per_producer, failure)) failure.set("producer stalled");
    if (!crew.wait_round()) break;
    if (failure.failed()) break;
    const std::uint64_t consumed = tally.consumed.load(std::memory_order_relaxed);
    if (consumed != total) {
      failure.set("consumed " + std::to_string(consumed) + " items, sent " + std::to_string(total));
    } else if (tally.sum.load(std::memory_order_relaxed) != expected_sum(producers, per_producer)) {
      failure.set("consumed items do not match the ones sent");
    } else if (tally.out_of_order.load(std::memory_order_relaxed)) {
      failure.set(exact ? "FIFO order broken" : "per-producer FIFO order broken");
    }
  }
  if (failure.failed()) {
    state.SkipWithError(failure.message().c_str());
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * total));
  state.counters["items_per_iteration"] = static_cast<double>(total);
}

// One token out on `out`, echoed back on `back`, per iteration.
template <typename Q>
void bm_ping_pong(benchmark::State& state) {
  ScopedPin pin(kProducerCpu);
  if (pin.error()) {
    state.SkipWithError(pin.error()->c_str());
    return;
  }
  auto out = std::make_unique<Q>();
  auto back = std::make_unique<Q>();
  Failure failure;
  Crew crew(
      {kConsumerCpu},
      // The queues by raw pointer: read through a reference, the echo side would load them
      // from the main thread's stack, from a line the ping side writes on every trip.
      [out = out.get(), back = back.get(), &failure](std::size_t) {
        Backoff backoff;
        for (;;) {
          std::uint64_t token;
          while (!out->try_pop(token)) {
            if (!backoff.wait() || failure.failed()) {
              failure.set("echo side stalled");
              return;
            }
          }
          backoff.reset();
          if (token == kStopToken) return;
          while (!back->try_push(token)) {
            if (!backoff.wait() || failure.failed()) {
              failure.set("echo side stalled");
              return;
            }
          }
          backoff.reset();
        }
      },
      failure);

  if (failure.failed()) {
    state.SkipWithError(failure.message().c_str());
    return;
  }

  crew.start_round();
  std::uint64_t token = 0;
  Backoff backoff;
  // Waits for `step` to succeed; false (with the failure recorded) if the peer stalled.
  auto await = [&](auto step) {
    while (!step()) {
      if (!backoff.wait() || failure.failed()) {
        failure.set("ping side stalled");
        return false;
      }
    }
    backoff.reset();
    return true;
  };
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    std::uint64_t echoed = kStopToken;
    if (!await([&] { return out->try_push(token); }) ||
        !await([&] { return back->try_pop(echoed); })) {
      break;
    }
    if (echoed != token) {
      failure.set("token " + std::to_string(token) + " came back as " + std::to_string(echoed));
      break;
    }
    ++token;
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (await([&] { return out->try_push(kStopToken); })) (void)crew.wait_round();
  if (failure.failed()) {
    state.SkipWithError(failure.message().c_str());
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(token));
  state.counters["rtt_ns"] =
      static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) /
      static_cast<double>(token);
}

// Items per iteration, sized for roughly 0.1-0.5 s per iteration on the reference machine.
constexpr std::uint64_t kFastItems = std::uint64_t{1} << 25;  // SPSC rings
constexpr std::uint64_t kRingItems = std::uint64_t{1} << 24;  // MPMC ring
constexpr std::uint64_t kSlowItems = std::uint64_t{1} << 20;  // boost::lockfree::queue
constexpr std::uint64_t kLockItems = std::uint64_t{1} << 22;  // mutex + deque

template <typename Q>
void register_stream(const std::string& shape, Mode mode, int producers, std::uint64_t items) {
  const std::string name = std::string("stream_") + shape + "/" + Q::kName + "/" +
                           (mode == Mode::single ? "single" : "batch64");
  benchmark::RegisterBenchmark(
      name.c_str(),
      [mode, producers, items](benchmark::State& s) { bm_stream<Q>(s, mode, producers, items); })
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

template <typename Q>
void register_ping_pong() {
  const std::string name = std::string("ping_pong/") + Q::kName;
  benchmark::RegisterBenchmark(name.c_str(), [](benchmark::State& s) { bm_ping_pong<Q>(s); })
      ->UseRealTime()
      ->Unit(benchmark::kNanosecond);
}

void register_all() {
  register_stream<SpscRingQueue>("1p1c", Mode::single, 1, kFastItems);
  register_stream<SpscRingQueue>("1p1c", Mode::batched, 1, kFastItems);
  register_stream<MpmcRingQueue>("1p1c", Mode::single, 1, kRingItems);
  register_stream<MpmcRingQueue>("1p1c", Mode::batched, 1, kRingItems);
  register_stream<MutexDequeQueue>("1p1c", Mode::single, 1, kLockItems);
  register_stream<MpmcRingQueue>("2p2c", Mode::single, 2, kRingItems);
  register_stream<MpmcRingQueue>("2p2c", Mode::batched, 2, kRingItems);
  register_stream<MutexDequeQueue>("2p2c", Mode::single, 2, kLockItems);
#if DWCP_HAVE_BOOST
  register_stream<BoostSpscQueue>("1p1c", Mode::single, 1, kFastItems);
  register_stream<BoostSpscQueue>("1p1c", Mode::batched, 1, kFastItems);
  register_stream<BoostQueue>("1p1c", Mode::single, 1, kSlowItems);
  register_stream<BoostQueue>("2p2c", Mode::single, 2, kSlowItems);
#endif

  register_ping_pong<SpscRingQueue>();
  register_ping_pong<MpmcRingQueue>();
  register_ping_pong<MutexDequeQueue>();
#if DWCP_HAVE_BOOST
  register_ping_pong<BoostSpscQueue>();
  register_ping_pong<BoostQueue>();
#endif
}

}  // namespace

int main(int argc, char** argv) {
#if !DWCP_HAVE_BOOST
  std::fprintf(stderr,
               "lockfree_bench: boost::lockfree comparisons skipped because libboost-dev is "
               "missing\n");
#endif
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
