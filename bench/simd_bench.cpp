// dwcp::simd kernels against their libraries called directly, against each other across
// SIMD levels, and against memcpy.
//
// Every case is named "<group>/<implementation>/<warm|cold>/<bytes>" and reports bytes/s.
// warm: the same buffer every iteration (in L1/L2 up to 64 KiB).
// cold: a different buffer every iteration, visited in shuffled order through a set twice the
//       size of the last-level cache, so the data comes from memory. The cache size comes
//       from sysfs; set DWCP_BENCH_LLC (e.g. "96M") where sysfs has none or is wrong.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <new>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <sys/mman.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <isa-l/crc.h>

#include "simd/checksum.h"
#include "simd/cpu_features.h"
#include "simd/xor_delta.h"
#include "simd/xor_kernels.h"

namespace {

namespace simd = dwcp::simd;

// ---- Buffers shared by all sections ----

enum class Cache { warm, cold };

const char* to_string(Cache cache) {
  return cache == Cache::warm ? "warm" : "cold";
}

constexpr std::size_t kLine = 64;
constexpr std::size_t kFallbackLlc = std::size_t{32} << 20;

// "32768K", "32M" or a plain byte count; 0 if unreadable.
std::size_t parse_size(const std::string& text) {
  std::size_t value = 0;
  char unit = 0;
  if (std::sscanf(text.c_str(), "%zu%c", &value, &unit) < 1) return 0;
  switch (unit) {
    case 'K':
      return value << 10;
    case 'M':
      return value << 20;
    case 'G':
      return value << 30;
    default:
      return value;
  }
}

// The last-level cache: DWCP_BENCH_LLC if set (e.g. "96M"), else sysfs, else 32 MiB. Not
// sysconf(_SC_LEVEL3_CACHE_SIZE): in a VM glibc's cpuid arithmetic can report the whole host
// (508 MiB on this project's VMs, which have no sysfs cache entries).
std::size_t llc_bytes() {
  if (const char* env = std::getenv("DWCP_BENCH_LLC")) {
    if (const std::size_t bytes = parse_size(env); bytes != 0) return bytes;
  }
  std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index3/size");
  std::string text;
  if (in >> text) {
    if (const std::size_t bytes = parse_size(text); bytes != 0) return bytes;
  }
  return kFallbackLlc;
}

void clear_upper_vector_state() noexcept {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx")) asm volatile("vzeroupper");
#endif
}

// Page-aligned anonymous memory filled with pseudo-random bytes.
class Region {
 public:
  explicit Region(std::size_t bytes) : bytes_(std::max<std::size_t>(bytes, 1)) {
    void* map = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<std::byte*>(map);
    std::mt19937_64 rng(bytes_);
    for (std::size_t i = 0; i + 8 <= bytes_; i += 8) {
      const std::uint64_t v = rng();
      std::memcpy(base_ + i, &v, sizeof v);
    }
  }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  ~Region() { ::munmap(base_, bytes_); }

  std::byte* data() const { return base_; }
  std::size_t size() const { return bytes_; }

 private:
  std::size_t bytes_;
  std::byte* base_ = nullptr;
};

// One set for every cold case, made on first use.
const Region& cold_region() {
  static const Region region(2 * llc_bytes());
  return region;
}

// Feeds `fn` one buffer of state.range(0) bytes per iteration and reports bytes/s.
// `fn` is taken by value so a stateful one (MemcpyInto) starts afresh in every run.
template <typename Fn>
void run_over_buffers(benchmark::State& state, Cache cache, Fn fn) {
  const auto size = static_cast<std::size_t>(state.range(0));
  if (cache == Cache::warm) {
    const Region buffer(size);
    const std::span<const std::byte> data(buffer.data(), size);
    for (auto _ : state) benchmark::DoNotOptimize(fn(data));
  } else {
    const Region& set = cold_region();
    const std::size_t stride = (size + kLine - 1) / kLine * kLine;
    std::vector<std::uint32_t> order(set.size() / stride);
    std::iota(order.begin(), order.end(), 0U);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(size));
    std::size_t next = 0;
    for (auto _ : state) {
      const std::span<const std::byte> data(set.data() + order[next] * stride, size);
      if (++next == order.size()) next = 0;
      benchmark::DoNotOptimize(fn(data));
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(size));
  // ISA-L called directly leaves the upper vector state dirty (see simd/checksum.cpp), which
  // would slow every legacy-SSE case that runs after it.
  clear_upper_vector_state();
}

template <typename Fn>
void register_case(const std::string& group, const std::string& impl, Cache cache, const Fn& fn) {
  const std::string name = group + "/" + impl + "/" + to_string(cache);
  auto* b = benchmark::RegisterBenchmark(
      name.c_str(), [cache, fn](benchmark::State& state) { run_over_buffers(state, cache, fn); });
  for (const std::int64_t size : {64, 1472, 4 << 10, 64 << 10, 1 << 20}) b->Arg(size);
}

// ---- Checksums ----

// The simplest hardware CRC32C: one dependent crc32 instruction per 8 bytes (latency-bound,
// no interleaved streams, no PCLMUL folding). Shows what ISA-L's folding buys.
#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42_single_stream(
    std::span<const std::byte> data) noexcept {
  std::uint64_t reg = 0xFFFFFFFFU;
  const std::byte* p = data.data();
  std::size_t n = data.size();
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, sizeof word);
    reg = _mm_crc32_u64(reg, word);
  }
  auto reg32 = static_cast<std::uint32_t>(reg);
  for (; n > 0; --n, ++p) reg32 = _mm_crc32_u8(reg32, std::to_integer<std::uint8_t>(*p));
  return ~reg32;
}
#endif

std::uint32_t isal_crc32_iscsi(std::span<const std::byte> data) noexcept {
  // ISA-L's raw register convention: start at ~0, invert the result (see checksum.cpp).
  auto* bytes = const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>(data.data()));
  return ~crc32_iscsi(bytes, static_cast<int>(data.size()), 0xFFFFFFFFU);
}

// Copies into a warm destination: the cost of touching the bytes once, the yardstick.
class MemcpyInto {
 public:
  std::byte operator()(std::span<const std::byte> data) {
    if (dst_.size() < data.size()) dst_.resize(data.size());
    std::memcpy(dst_.data(), data.data(), data.size());
    benchmark::ClobberMemory();
    return data.empty() ? std::byte{} : dst_[data.size() - 1];
  }

 private:
  std::vector<std::byte> dst_;
};

bool checksum_self_check() {
  const Region buffer(1000);
  const std::span<const std::byte> data(buffer.data(), 999);  // odd: exercises the tails
  bool ok = simd::crc32c(simd::as_bytes("123456789")) == 0xE3069283U &&
            isal_crc32_iscsi(data) == simd::crc32c(data);
#if defined(__x86_64__)
  ok = ok && (!__builtin_cpu_supports("sse4.2") ||
              crc32c_sse42_single_stream(data) == simd::crc32c(data));
#endif
  return ok;
}

void register_checksum_benchmarks() {
  if (!checksum_self_check()) {
    std::fputs("simd_bench: checksum implementations disagree; checksum cases skipped\n", stderr);
    return;
  }
  for (const Cache cache : {Cache::warm, Cache::cold}) {
    register_case("checksum", "crc32c", cache,
                  [](std::span<const std::byte> d) { return simd::crc32c(d); });
    register_case("checksum", "isal_crc32_iscsi", cache, isal_crc32_iscsi);
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) {
      register_case("checksum", "sse42_crc32_u64", cache, crc32c_sse42_single_stream);
    }
#endif
    register_case("checksum", "xxh3_64", cache,
                  [](std::span<const std::byte> d) { return simd::xxh3_64(d); });
    register_case("checksum", "xxh3_128", cache,
                  [](std::span<const std::byte> d) { return simd::xxh3_128(d); });
    register_case("checksum", "memcpy", cache, MemcpyInto{});
  }
}

// ---- XOR-delta codec ----
// encode, decode and xor_into at every SIMD level this CPU has, next to memcpy of the same
// size ("copy/memcpy"). Groups name the change pattern: "encode:scattered:1%" changes each
// byte with probability 1%; "clustered" changes the same share in runs of 32 bytes (a record
// rewritten in a page). Cold cases cycle through 2x the last-level cache of (base, block).

enum class Pattern { scattered, clustered };
enum class CodecOp { encode, decode, xor_into, copy };

struct DeltaCase {
  std::vector<std::byte> base;
  std::vector<std::byte> block;
  std::vector<std::byte> delta;  // block encoded against base; empty if not smaller
};

void change_bytes(std::mt19937_64& rng, std::vector<std::byte>& block, double density,
                  Pattern pattern) {
  if (density <= 0) return;
  if (pattern == Pattern::scattered) {
    if (density >= 1.0) {
      for (auto& b : block) b ^= static_cast<std::byte>(1 + rng() % 255);
      return;
    }
    // Each byte changes with probability `density`: jump from change to change.
    std::geometric_distribution<std::size_t> gap(density);
    for (std::size_t i = gap(rng); i < block.size(); i += 1 + gap(rng)) {
      block[i] ^= static_cast<std::byte>(1 + rng() % 255);
    }
    return;
  }
  constexpr std::size_t kRun = 32;
  const auto target = static_cast<std::size_t>(static_cast<double>(block.size()) * density);
  for (std::size_t changed = 0; changed < std::max<std::size_t>(target, 1); changed += kRun) {
    const std::size_t at = rng() % block.size();
    for (std::size_t i = at; i < std::min(block.size(), at + kRun); ++i) {
      block[i] ^= static_cast<std::byte>(1 + rng() % 255);
    }
  }
}

std::vector<DeltaCase> make_delta_cases(std::size_t size, double density, Pattern pattern,
                                        Cache cache) {
  std::mt19937_64 rng(size * 31 + static_cast<std::uint64_t>(density * 1000));
  const std::size_t count =
      cache == Cache::warm ? 1 : std::max<std::size_t>(1, 2 * llc_bytes() / (2 * size));
  const simd::XorKernels& scalar = *simd::xor_kernels_for(simd::SimdLevel::scalar);
  std::vector<DeltaCase> cases(count);
  for (auto& c : cases) {
    c.base.resize(size);
    for (std::size_t i = 0; i < size; i += 8) {
      const std::uint64_t v = rng();
      std::memcpy(c.base.data() + i, &v, std::min<std::size_t>(8, size - i));
    }
    c.block = c.base;
    change_bytes(rng, c.block, density, pattern);
    c.delta.resize(simd::max_encoded_size(size));
    const auto n = scalar.encode(c.base.data(), size, c.block.data(), size, c.delta.data());
    c.delta.resize(n ? *n : 0);
  }
  return cases;
}

// Made once per (size, change, cache) and shared by every level and repetition: the cold sets
// are hundreds of MiB, and rebuilding them per run would dominate the bench's time.
const std::vector<DeltaCase>& delta_cases(std::size_t size, double density, Pattern pattern,
                                          Cache cache) {
  static std::map<std::tuple<std::size_t, double, Pattern, Cache>, std::vector<DeltaCase>> made;
  auto key = std::make_tuple(size, density, pattern, cache);
  auto it = made.find(key);
  if (it == made.end()) {
    it = made.emplace(key, make_delta_cases(size, density, pattern, cache)).first;
  }
  return it->second;
}

void run_codec(benchmark::State& state, CodecOp op, const simd::XorKernels* k, double density,
               Pattern pattern, Cache cache) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto& cases = delta_cases(size, density, pattern, cache);
  if (op == CodecOp::decode && cases.front().delta.empty()) {
    state.SkipWithError("the block does not encode smaller: nothing to decode");
    return;
  }
  std::vector<std::byte> out(size);
  std::size_t next = 0;
  for (auto _ : state) {
    const DeltaCase& c = cases[next];
    if (++next == cases.size()) next = 0;
    switch (op) {
      case CodecOp::encode:
        benchmark::DoNotOptimize(k->encode(c.base.data(), size, c.block.data(), size, out.data()));
        break;
      case CodecOp::decode:
        benchmark::DoNotOptimize(
            k->decode(c.base.data(), size, c.delta.data(), c.delta.size(), out.data(), size));
        break;
      case CodecOp::xor_into:
        k->xor_into(out.data(), c.base.data(), c.block.data(), size);
        break;
      case CodecOp::copy:
        std::memcpy(out.data(), c.block.data(), size);
        break;
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(size));
  if (op == CodecOp::encode) {
    state.counters["delta_bytes"] = static_cast<double>(cases.front().delta.size());
  }
}

void register_codec_case(const std::string& group, const std::string& impl, Cache cache,
                         std::initializer_list<std::int64_t> sizes, CodecOp op,
                         const simd::XorKernels* k, double density, Pattern pattern) {
  const std::string name = group + "/" + impl + "/" + to_string(cache);
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
    run_codec(state, op, k, density, pattern, cache);
  });
  for (const std::int64_t size : sizes) b->Arg(size);
}

void register_codec_benchmarks() {
  struct Change {
    const char* name;
    double density;
    Pattern pattern;
    bool cold;  // also measured cold
  };
  const Change changes[] = {
      {"scattered:0%", 0.0, Pattern::scattered, false},
      {"scattered:1%", 0.01, Pattern::scattered, true},
      {"clustered:1%", 0.01, Pattern::clustered, true},
      {"scattered:10%", 0.10, Pattern::scattered, false},
      {"clustered:10%", 0.10, Pattern::clustered, false},
      {"scattered:100%", 1.0, Pattern::scattered, false},
  };
  const auto all_sizes = {std::int64_t{64}, std::int64_t{1024}, std::int64_t{4096},
                          std::int64_t{65536}, std::int64_t{1} << 20};
  const auto cold_sizes = {std::int64_t{4096}, std::int64_t{65536}, std::int64_t{1} << 20};
  for (const Cache cache : {Cache::warm, Cache::cold}) {
    const auto sizes = cache == Cache::warm ? all_sizes : cold_sizes;
    register_codec_case("copy", "memcpy", cache, sizes, CodecOp::copy, nullptr, 0,
                        Pattern::scattered);
    for (const simd::SimdLevel level : simd::supported_simd_levels()) {
      const simd::XorKernels* k = simd::xor_kernels_for(level);
      const std::string impl(simd::to_string(level));
      register_codec_case("xor_into", impl, cache, sizes, CodecOp::xor_into, k, 0,
                          Pattern::scattered);
      for (const Change& c : changes) {
        if (cache == Cache::cold && !c.cold) continue;
        register_codec_case(std::string("encode:") + c.name, impl, cache, sizes, CodecOp::encode, k,
                            c.density, c.pattern);
        if (c.density < 1.0) {
          register_codec_case(std::string("decode:") + c.name, impl, cache, sizes, CodecOp::decode,
                              k, c.density, c.pattern);
        }
      }
    }
  }
}

// BENCHMARK_MAIN() runs after static initialisation; each section registers its cases here.
[[maybe_unused]] const bool kRegistered = [] {
  register_checksum_benchmarks();
  register_codec_benchmarks();
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
