#include "tools/wanem/counters.h"

#include <doctest/doctest.h>

#include "tools/wanem/packet_pool.h"
#include "tools/wanem/random.h"

using namespace dwcp::wanem;

TEST_CASE("counters print as one JSON object with both directions") {
  Counters c;
  c.profile = "lossy\"mobile";
  c.seed = 7;
  c.elapsed_seconds = 1.5;
  c.direction[0].packets_in = 10;
  c.direction[0].dropped_random = 2;
  c.direction[1].duplicated = 3;
  const std::string json = format_json(c);
  CHECK(json.starts_with("{\"profile\":\"lossy\\\"mobile\",\"seed\":7,"));
  CHECK(json.find("\"elapsed_seconds\":1.500000") != std::string::npos);
  CHECK(json.find("\"a2b\":{\"packets_in\":10,") != std::string::npos);
  CHECK(json.find("\"dropped_random\":2") != std::string::npos);
  CHECK(json.find("\"b2a\":{") != std::string::npos);
  CHECK(json.find("\"duplicated\":3") != std::string::npos);
  CHECK(json.ends_with("}\n"));
  const std::string text = format_text(c);
  CHECK(text.find("a2b: packets_in=10") != std::string::npos);
  CHECK(text.find("b2a:") != std::string::npos);
}

TEST_CASE("the packet pool grows on demand up to its ceiling and reuses buffers") {
  PacketPool pool(5000);
  std::vector<std::uint32_t> handles;
  while (auto h = pool.acquire()) handles.push_back(*h);
  CHECK(handles.size() == 5000);
  CHECK(pool.in_use() == 5000);
  pool.buffer(handles[4999])[PacketPool::kBufferSize - 1] = std::byte{1};
  pool.release(handles[10]);
  CHECK(pool.acquire() == handles[10]);
  CHECK_FALSE(pool.acquire().has_value());
}

TEST_CASE("the generator repeats per seed and differs across seeds") {
  Random a(1);
  Random b(1);
  Random c(2);
  CHECK(a.next_u64() == 0xb3f2af6d0fc710c5ULL);  // the known answer --version checks
  (void)b.next_u64();
  CHECK(a.next_u64() == b.next_u64());
  CHECK(c.next_u64() != b.next_u64());
  for (int i = 0; i < 1000; ++i) {
    const double u = a.next_unit();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    REQUIRE(a.below(10) < 10U);
  }
}
