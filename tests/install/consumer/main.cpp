// A program outside the dwcp tree, built against an installed dwcp.
#include <dwcp/affinity/topology.h>
#include <dwcp/lockfree/spsc_ring.h>
#include <dwcp/mempool/buffer_pool.h>
#include <dwcp/simd/checksum.h>
#include <dwcp/simd/cpu_features.h>
#include <dwcp/simd/xor_delta.h>

#include <cstdio>
#include <cstring>
#include <span>
#include <string>

int main() {
  dwcp::lockfree::SpscRing<int> ring(4);
  if (!ring.try_push(42)) return 1;
  int value = 0;
  if (!ring.try_pop(value) || value != 42) return 2;

  auto pool = dwcp::mempool::BufferPool::create();
  if (!pool) return 3;
  dwcp::mempool::BufferHandle buffer = (*pool)->try_allocate(1500);
  if (!buffer || buffer.capacity() < 1500) return 4;
  std::memcpy(buffer.data(), "dwcp", 4);
  buffer.reset();

  if (dwcp::simd::crc32c(dwcp::simd::as_bytes("123456789")) != 0xE3069283u) return 6;
  std::byte base[64] = {};
  std::byte block[64] = {};
  block[10] = std::byte{1};
  std::byte delta[64];
  std::byte rebuilt[64];
  auto encoded = dwcp::simd::encode_delta(base, block, delta);
  if (!encoded) return 7;
  auto decoded = dwcp::simd::decode_delta(base, std::span(delta, *encoded), rebuilt);
  if (!decoded || std::memcmp(rebuilt, block, 64) != 0) return 8;

  auto topology = dwcp::affinity::Topology::discover();
  if (!topology) return 5;
  std::printf("ok: %zu cpus, %zu numa node(s), simd %s\n", topology->online_cpus().count(),
              static_cast<std::size_t>(topology->node_count()),
              std::string(dwcp::simd::to_string(dwcp::simd::active_simd_level())).c_str());
  return 0;
}
