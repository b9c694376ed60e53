// Drives a BufferPool through a byte-coded sequence of allocations, shares, drops, raw
// round trips, bogus from_raw calls and thread-cache changes, checking reference counts,
// exhaustion and buffer contents against a model at every step.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "mempool/buffer_pool.h"
#include "mempool/thread_cache.h"

namespace {

using namespace dwcp::mempool;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr std::uint32_t kCounts[2] = {4, 3};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  PoolConfig config;
  config.classes = {{64, kCounts[0], 2}, {256, kCounts[1], 0}};
  config.arena.huge_pages = HugePages::off;
  auto created = BufferPool::create(config);
  check(created.has_value());
  BufferPool& pool = **created;

  std::vector<BufferHandle> handles;
  std::vector<std::byte*> raws;
  std::map<std::byte*, std::uint32_t> refs;  // model: references per held buffer
  std::map<std::byte*, std::uint8_t> tags;   // first byte written at allocation
  std::optional<ThreadCache> cache;
  std::uint8_t tag = 0;

  std::size_t held[2] = {0, 0};
  std::map<std::byte*, std::size_t> klass;
  auto drop_ref = [&](std::byte* p) {
    if (--refs[p] == 0) {
      refs.erase(p);
      --held[klass[p]];
    }
  };

  for (std::size_t i = 0; i < size; ++i) {
    const std::uint8_t arg = data[i] >> 3;
    switch (data[i] & 7) {
      case 0: {  // allocate from class arg % 2
        const std::size_t c = arg % 2;
        BufferHandle h = pool.try_allocate_class(c);
        check(static_cast<bool>(h) == (held[c] < kCounts[c]));
        if (h) {
          check(!refs.contains(h.data()) && h.use_count() == 1 && h.length() == 0);
          refs[h.data()] = 1;
          klass[h.data()] = c;
          ++held[c];
          h.data()[0] = std::byte{++tag};
          tags[h.data()] = tag;
          handles.push_back(std::move(h));
        }
        break;
      }
      case 1:  // share
        if (!handles.empty()) {
          BufferHandle copy = handles[arg % handles.size()];
          ++refs[copy.data()];
          handles.push_back(std::move(copy));
        }
        break;
      case 2:  // drop
        if (!handles.empty()) {
          const std::size_t k = arg % handles.size();
          std::byte* p = handles[k].data();
          handles.erase(handles.begin() + static_cast<std::ptrdiff_t>(k));
          drop_ref(p);
        }
        break;
      case 3:  // give up a reference as a raw pointer
        if (!handles.empty()) {
          const std::size_t k = arg % handles.size();
          raws.push_back(std::move(handles[k]).into_raw());
          handles.erase(handles.begin() + static_cast<std::ptrdiff_t>(k));
        }
        break;
      case 4:  // take a raw reference back
        if (!raws.empty()) {
          const std::size_t k = arg % raws.size();
          auto back = pool.from_raw(raws[k]);
          check(back.has_value());
          raws.erase(raws.begin() + static_cast<std::ptrdiff_t>(k));
          handles.push_back(std::move(*back));
        }
        break;
      case 5: {  // bogus pointers are refused and change nothing
        std::byte local[8];
        check(pool.from_raw(local).error().code == PoolErrc::foreign_buffer);
        if (!handles.empty()) {
          std::byte* inside = handles[arg % handles.size()].data() + 1 + arg % 60;
          check(pool.from_raw(inside).error().code == PoolErrc::foreign_buffer);
        }
        break;
      }
      case 6:  // thread cache on or off
        if (cache) {
          cache.reset();
        } else {
          cache.emplace(pool);
        }
        break;
      default:
        if (!handles.empty()) {
          BufferHandle& h = handles[arg % handles.size()];
          check(h.set_length(arg) && h.length() == arg);
        }
        break;
    }
    for (const BufferHandle& h : handles) {
      check(h.use_count() == refs[h.data()]);
      check(h.data()[0] == std::byte{tags[h.data()]});
    }
  }

  // Everything returns: raw references are taken back and dropped with the handles.
  for (std::byte* raw : raws) check(pool.from_raw(raw).has_value());
  handles.clear();
  cache.reset();
  const PoolStats stats = pool.stats();
  for (const SizeClassStats& c : stats.classes) check(c.in_use == 0 && c.double_frees == 0);
  return 0;
}
