#include "transport/reorder_buffer.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <vector>

#include "transport/flow_credit.h"
#include "transport/send_buffer.h"

using namespace dwcp::transport;

namespace {

std::byte stream_byte(std::uint64_t offset) {
  return static_cast<std::byte>((offset * 131 + (offset >> 8) * 7 + 1) & 0xff);
}

std::vector<std::byte> bytes_at(std::uint64_t offset, std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = stream_byte(offset + i);
  return bytes;
}

// Inserts the test stream's bytes [offset, offset + size).
ReorderStatus insert(ReorderBuffer& buffer, std::uint64_t offset, std::size_t size,
                     bool fin = false, bool message_end = false) {
  return buffer.insert(offset, bytes_at(offset, size), fin, message_end);
}

// Pops every whole message and returns their sizes, checking their bytes.
std::vector<std::uint64_t> drain(ReorderBuffer& buffer) {
  std::vector<std::uint64_t> sizes;
  while (true) {
    const std::uint64_t start = buffer.consumed();
    auto message = buffer.pop_message();
    if (!message) break;
    CHECK(*message == bytes_at(start, message->size()));
    sizes.push_back(message->size());
  }
  return sizes;
}

using Sizes = std::vector<std::uint64_t>;

}  // namespace

TEST_CASE("in-order frames deliver their messages") {
  ReorderBuffer buffer(1 << 20, 256);
  REQUIRE_FALSE(insert(buffer, 0, 10, false, true));
  REQUIRE_FALSE(insert(buffer, 10, 20, false, true));
  CHECK(buffer.next_message_size() == 10u);
  CHECK(drain(buffer) == Sizes{10, 20});
  CHECK(buffer.consumed() == 30);
  CHECK(buffer.bytes_buffered() == 0);
  CHECK_FALSE(buffer.next_message_size());
}

TEST_CASE("reordered frames deliver messages in order and only when whole") {
  ReorderBuffer buffer(1 << 20, 64);
  // Messages of 100, 50 and 300 bytes sent as frames of at most 80.
  REQUIRE_FALSE(insert(buffer, 380, 70, true, true));
  REQUIRE_FALSE(insert(buffer, 150, 80));
  REQUIRE_FALSE(insert(buffer, 100, 50, false, true));
  REQUIRE_FALSE(insert(buffer, 80, 20, false, true));
  CHECK_FALSE(buffer.next_message_size());
  CHECK(buffer.bytes_buffered() == 220);
  REQUIRE_FALSE(insert(buffer, 0, 80));
  CHECK(drain(buffer) == Sizes{100, 50});
  REQUIRE_FALSE(insert(buffer, 310, 70));
  REQUIRE_FALSE(insert(buffer, 230, 80));
  CHECK(drain(buffer) == Sizes{300});
  CHECK(buffer.finished());
  CHECK(buffer.bytes_buffered() == 0);
}

TEST_CASE("duplicated and overlapping frames deliver each byte once") {
  ReorderBuffer buffer(1 << 20, 128);
  REQUIRE_FALSE(insert(buffer, 100, 100, false, true));
  REQUIRE_FALSE(insert(buffer, 100, 100, false, true));
  REQUIRE_FALSE(insert(buffer, 50, 120));
  CHECK(buffer.bytes_buffered() == 150);
  REQUIRE_FALSE(insert(buffer, 0, 60));
  REQUIRE_FALSE(insert(buffer, 0, 200, false, true));
  CHECK(drain(buffer) == Sizes{200});
  // Old data again, entirely below what was delivered: nothing changes.
  REQUIRE_FALSE(insert(buffer, 0, 200, false, true));
  REQUIRE_FALSE(insert(buffer, 150, 100, false, false));
  CHECK(buffer.bytes_buffered() == 50);
  CHECK_FALSE(buffer.next_message_size());
  REQUIRE_FALSE(insert(buffer, 240, 60, false, true));
  CHECK(drain(buffer) == Sizes{100});
}

TEST_CASE("many small messages and one spanning many frames keep their boundaries") {
  ReorderBuffer buffer(1 << 20, 256);
  std::uint64_t offset = 0;
  Sizes expected;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t size = 1 + i % 3;
    REQUIRE_FALSE(insert(buffer, offset, size, false, true));
    offset += size;
    expected.push_back(size);
  }
  // 50,000 bytes in frames of 1,000, last one first.
  for (int frame = 49; frame >= 0; --frame) {
    REQUIRE_FALSE(insert(buffer, offset + frame * 1000, 1000, false, frame == 49));
  }
  expected.push_back(50'000);
  CHECK(drain(buffer) == expected);
}

TEST_CASE("overlapping data with different bytes: the first write wins") {
  ReorderBuffer buffer(1 << 20, 64);
  const std::vector<std::byte> first(100, std::byte{1});
  const std::vector<std::byte> second(100, std::byte{2});
  REQUIRE_FALSE(buffer.insert(50, std::span(first).first(50), false, false));
  REQUIRE_FALSE(buffer.insert(0, second, false, true));
  const auto message = buffer.pop_message();
  REQUIRE(message);
  CHECK(std::count(message->begin(), message->begin() + 50, std::byte{2}) == 50);
  CHECK(std::count(message->begin() + 50, message->end(), std::byte{1}) == 50);
}

TEST_CASE("a message end marked by any frame stays; MSG on an empty frame is ignored") {
  ReorderBuffer buffer(1 << 20, 64);
  REQUIRE_FALSE(insert(buffer, 0, 20, false, false));
  REQUIRE_FALSE(insert(buffer, 0, 10, false, true));   // marks byte 9 after it arrived
  REQUIRE_FALSE(insert(buffer, 0, 20, false, false));  // clears nothing
  REQUIRE_FALSE(insert(buffer, 20, 0, false, true));
  CHECK(drain(buffer) == Sizes{10});
  REQUIRE_FALSE(insert(buffer, 15, 5, false, true));
  CHECK(drain(buffer) == Sizes{10});
}

TEST_CASE("the final size ends the last message") {
  ReorderBuffer buffer(1 << 20, 64);
  REQUIRE_FALSE(insert(buffer, 0, 10, false, true));
  REQUIRE_FALSE(insert(buffer, 10, 15, true, false));
  CHECK(buffer.final_size() == 25u);
  CHECK(drain(buffer) == Sizes{10, 15});
  CHECK(buffer.finished());
}

TEST_CASE("a bare FIN finishes a stream whose data was all delivered") {
  ReorderBuffer buffer(1 << 20, 64);
  REQUIRE_FALSE(insert(buffer, 0, 10, false, true));
  CHECK(drain(buffer) == Sizes{10});
  CHECK_FALSE(buffer.finished());
  REQUIRE_FALSE(insert(buffer, 10, 0, true));
  CHECK(buffer.finished());
  CHECK(drain(buffer).empty());
  REQUIRE_FALSE(insert(buffer, 10, 0, true));  // the same final size again is fine
  REQUIRE_FALSE(insert(buffer, 0, 10, true, true));
}

TEST_CASE("final size violations are FINAL_SIZE_ERROR and change nothing") {
  ReorderBuffer buffer(1 << 20, 64);
  REQUIRE_FALSE(insert(buffer, 0, 30, false, true));
  REQUIRE_FALSE(insert(buffer, 50, 50, false, true));
  // A final size below data already received.
  CHECK(insert(buffer, 30, 10, true, true) == ReorderError::final_size);
  CHECK_FALSE(buffer.final_size());
  REQUIRE_FALSE(insert(buffer, 100, 20, true, true));
  CHECK(buffer.final_size() == 120u);
  // Data past the final size, and a different final size.
  CHECK(insert(buffer, 110, 11) == ReorderError::final_size);
  CHECK(insert(buffer, 120, 1, false, true) == ReorderError::final_size);
  CHECK(insert(buffer, 100, 10, true) == ReorderError::final_size);
  CHECK(insert(buffer, 100, 21, true) == ReorderError::final_size);
  CHECK(buffer.insert(120, {}, true, false) == std::nullopt);
  CHECK(buffer.bytes_buffered() == 100);
  CHECK(buffer.highest_received() == 120);
  CHECK(close_code(ReorderError::final_size) == dwcp::proto::TransportError::final_size_error);
  CHECK(to_string(ReorderError::final_size) == "final_size");
}

TEST_CASE("data past the credit is FLOW_CONTROL_ERROR until the limit is raised") {
  ReorderBuffer buffer(1000, 64);
  REQUIRE_FALSE(insert(buffer, 900, 100, false, true));
  CHECK(insert(buffer, 901, 100) == ReorderError::flow_control);
  CHECK(insert(buffer, 1000, 0, true) == std::nullopt);  // a FIN at the limit uses no credit
  CHECK(close_code(ReorderError::flow_control) == dwcp::proto::TransportError::flow_control_error);

  ReorderBuffer open(1000, 64);
  CHECK(open.insert(~std::uint64_t{0}, bytes_at(0, 2), false, false) == ReorderError::flow_control);
  CHECK(insert(open, 1000, 1) == ReorderError::flow_control);
  open.set_offset_limit(2000);
  open.set_offset_limit(1500);  // limits only grow
  CHECK(open.offset_limit() == 2000);
  CHECK_FALSE(insert(open, 1000, 1000, false, true));
  CHECK(open.bytes_buffered() == 1000);
}

TEST_CASE("read_message needs room for the whole message and consumes nothing otherwise") {
  ReorderBuffer buffer(1 << 20, 64);
  REQUIRE_FALSE(insert(buffer, 0, 100, false, true));
  std::vector<std::byte> small(99);
  CHECK_FALSE(buffer.read_message(small));
  CHECK(buffer.consumed() == 0);
  std::vector<std::byte> room(150);
  CHECK(buffer.read_message(room) == 100u);
  CHECK(std::vector(room.begin(), room.begin() + 100) == bytes_at(0, 100));
  CHECK(buffer.consumed() == 100);
  CHECK_FALSE(buffer.read_message(room));
}

TEST_CASE("message ends are found anywhere in a large block, in any arrival order") {
  // A 16 KiB block summarises its 256 words of end marks in 4 words: ends just before,
  // at and after the summary's word boundaries (every 4 KiB), and far apart.
  const Sizes sizes{1, 4094, 1, 4096, 4097, 8191, 12289, 100, 16383, 64, 20000};
  std::vector<std::uint64_t> starts;
  std::uint64_t total = 0;
  for (std::uint64_t size : sizes) {
    starts.push_back(total);
    total += size;
  }
  SUBCASE("in order") {
    ReorderBuffer buffer(1 << 20, ReorderBuffer::kDefaultBlockSize);
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      REQUIRE_FALSE(insert(buffer, starts[i], sizes[i], false, true));
    }
    CHECK(drain(buffer) == sizes);
  }
  SUBCASE("backwards, read as they complete") {
    ReorderBuffer buffer(1 << 20, ReorderBuffer::kDefaultBlockSize);
    for (std::size_t i = sizes.size(); i-- > 1;) {
      REQUIRE_FALSE(insert(buffer, starts[i], sizes[i], false, true));
      CHECK_FALSE(buffer.next_message_size());
    }
    REQUIRE_FALSE(insert(buffer, 0, sizes[0], false, true));
    CHECK(drain(buffer) == sizes);
  }
  SUBCASE("interleaved with reads") {
    ReorderBuffer buffer(1 << 20, ReorderBuffer::kDefaultBlockSize);
    Sizes delivered;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      // Each message's second half first.
      const std::uint64_t half = sizes[i] / 2;
      REQUIRE_FALSE(insert(buffer, starts[i] + half, sizes[i] - half, false, true));
      if (half > 0) REQUIRE_FALSE(insert(buffer, starts[i], half));
      const Sizes got = drain(buffer);
      delivered.insert(delivered.end(), got.begin(), got.end());
    }
    CHECK(delivered == sizes);
  }
}

TEST_CASE("memory is bounded by the window and released as messages are delivered") {
  constexpr std::uint64_t kWindow = 64 * 1024;
  constexpr std::size_t kBlock = 4096;
  ReorderBuffer buffer(kWindow, kBlock);
  // Data, two bits per byte, and a summary word per 4 KiB.
  const std::size_t bound = (kWindow / kBlock + 1) * (kBlock + kBlock / 4 + 8);
  // Every other byte first: the worst fragmentation costs nothing extra.
  for (std::uint64_t offset = 1; offset < kWindow; offset += 2) {
    REQUIRE_FALSE(insert(buffer, offset, 1, false, offset % 1024 == 1023));
  }
  CHECK(buffer.allocated_bytes() <= bound);
  CHECK(buffer.bytes_buffered() == kWindow / 2);
  for (std::uint64_t offset = 0; offset < kWindow; offset += 2) {
    REQUIRE_FALSE(insert(buffer, offset, 1));
  }
  CHECK(drain(buffer).size() == kWindow / 1024);
  CHECK(buffer.allocated_bytes() == 0);
  // Slide the window along, filling each one from the top down.
  for (int round = 0; round < 100; ++round) {
    const std::uint64_t base = buffer.consumed();
    buffer.set_offset_limit(base + kWindow);
    const std::uint64_t head = kWindow % 1000;
    for (int frame = static_cast<int>(kWindow / 1000) - 1; frame >= 0; --frame) {
      REQUIRE_FALSE(insert(buffer, base + head + frame * 1000, 1000, false, true));
      REQUIRE(buffer.allocated_bytes() <= bound);
    }
    REQUIRE_FALSE(insert(buffer, base, head));
    CHECK(drain(buffer).size() == kWindow / 1000);
    CHECK(buffer.bytes_buffered() == 0);
  }
}

// A sender and a receiver joined by a channel that loses, delays, reorders and duplicates
// packets, with acknowledgements, loss declarations (some spurious) and credit updates
// travelling back. Every message must arrive exactly once, whole and in order.
TEST_CASE("messages cross a lossy reordering channel exactly once and byte-exact") {
  for (const std::uint64_t seed : {1ULL, 2ULL, 0x5a138fbde8743ULL}) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    constexpr std::uint64_t kWindow = 32 * 1024;
    constexpr std::uint64_t kMtu = 1200;
    SendBuffer sender(16 * 1024);
    SendCredit send_credit(kWindow);
    ReorderBuffer receiver(kWindow, 4096);
    ReceiveCredit receive_credit(kWindow);

    std::vector<std::vector<std::byte>> messages(1500);
    for (auto& message : messages) {
      const bool large = rng() % 4 == 0;
      message.resize(1 + rng() % (large ? 9000 : 300));
      for (auto& byte : message) byte = static_cast<std::byte>(rng());
    }
    std::size_t appended = 0;
    std::size_t received = 0;

    struct Packet {
      SendChunk chunk;
      std::vector<std::byte> bytes;
    };
    enum class Kind { arrive, ack, lose };
    struct Event {
      Kind kind;
      Packet packet;
    };
    std::multimap<std::uint64_t, Event> events;
    std::uint64_t now = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t spurious = 0;

    while (!(sender.all_acked() && receiver.finished())) {
      REQUIRE(now < 2'000'000);
      ++now;
      while (appended < messages.size()) {
        const auto status = sender.append(messages[appended]);
        REQUIRE_FALSE(is_error(status));
        if (status != AppendStatus::accepted) break;
        if (++appended == messages.size()) sender.finish();
      }
      // Send a few packets per tick; only new data takes credit.
      for (int burst = 0; burst < 3; ++burst) {
        const bool retransmitting = sender.bytes_lost() > 0;
        const std::uint64_t room =
            retransmitting ? kMtu : std::min(kMtu, send_credit.limit() - sender.highest_sent());
        const std::uint64_t before = sender.highest_sent();
        const auto chunk = sender.next_chunk(room);
        if (!chunk) break;
        send_credit.consume(sender.highest_sent() - before);
        REQUIRE(sender.highest_sent() <= send_credit.limit());
        Packet packet{*chunk, std::vector<std::byte>(chunk->length)};
        REQUIRE(sender.copy_out(chunk->offset, packet.bytes) == chunk->length);
        const std::uint64_t delay = 1 + rng() % 40;
        if (rng() % 10 == 0) {
          events.emplace(now + delay + 30, Event{Kind::lose, packet});
        } else {
          if (rng() % 20 == 0) {
            events.emplace(now + rng() % 80, Event{Kind::arrive, packet});
            ++duplicates;
          }
          if (rng() % 20 == 0) {
            events.emplace(now + delay / 2, Event{Kind::lose, packet});
            ++spurious;
          }
          events.emplace(now + delay, Event{Kind::arrive, packet});
        }
      }
      // Deliver what is due.
      while (!events.empty() && events.begin()->first <= now) {
        auto node = events.extract(events.begin());
        Event& event = node.mapped();
        const SendChunk& chunk = event.packet.chunk;
        switch (event.kind) {
          case Kind::arrive: {
            REQUIRE_FALSE(
                receiver.insert(chunk.offset, event.packet.bytes, chunk.fin, chunk.message_end));
            REQUIRE(receive_credit.on_received(receiver.highest_received()));
            REQUIRE(receiver.bytes_buffered() <= receiver.offset_limit() - receiver.consumed());
            while (auto message = receiver.pop_message()) {
              REQUIRE(received < messages.size());
              REQUIRE(*message == messages[received]);
              ++received;
              receive_credit.on_consumed(message->size());
            }
            if (const auto limit = receive_credit.update()) {
              receiver.set_offset_limit(*limit);
              send_credit.raise_limit(*limit);
            }
            events.emplace(now + 1 + rng() % 20, Event{Kind::ack, event.packet});
            break;
          }
          case Kind::ack:
            sender.on_acked(chunk.offset, chunk.length, chunk.fin);
            break;
          case Kind::lose:
            sender.on_lost(chunk.offset, chunk.length, chunk.fin);
            break;
        }
      }
      REQUIRE(sender.bytes_buffered() <= sender.capacity());
    }
    CHECK(received == messages.size());
    CHECK(receiver.consumed() == *sender.final_size());
    CHECK(duplicates > 0);
    CHECK(spurious > 0);
  }
}
