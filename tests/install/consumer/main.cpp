// A program outside the dwcp tree, built against an installed dwcp.
#include <dwcp/affinity/topology.h>
#include <dwcp/lockfree/spsc_ring.h>
#include <dwcp/mempool/buffer_pool.h>

#include <cstdio>
#include <cstring>

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

  auto topology = dwcp::affinity::Topology::discover();
  if (!topology) return 5;
  std::printf("ok: %zu cpus, %zu numa node(s)\n", topology->online_cpus().count(),
              static_cast<std::size_t>(topology->node_count()));
  return 0;
}
