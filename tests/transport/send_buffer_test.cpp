#include "transport/send_buffer.h"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

using namespace dwcp::transport;

namespace {

// Byte `offset` of every test stream, so any chunk can be checked on its own.
std::byte stream_byte(std::uint64_t offset) {
  return static_cast<std::byte>((offset * 131 + (offset >> 8) * 7 + 1) & 0xff);
}

std::vector<std::byte> message_at(std::uint64_t offset, std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = stream_byte(offset + i);
  return bytes;
}

// Appends a message of `size` bytes continuing the test stream.
AppendStatus append(SendBuffer& buffer, std::size_t size) {
  return buffer.append(message_at(buffer.end_offset(), size));
}

void check_bytes(const SendBuffer& buffer, const SendChunk& chunk) {
  std::vector<std::byte> out(chunk.length);
  REQUIRE(buffer.copy_out(chunk.offset, out) == chunk.length);
  CHECK(out == message_at(chunk.offset, chunk.length));
}

SendChunk take(SendBuffer& buffer, std::uint64_t max_bytes) {
  const auto chunk = buffer.next_chunk(max_bytes);
  REQUIRE(chunk);
  check_bytes(buffer, *chunk);
  return *chunk;
}

}  // namespace

TEST_CASE("messages get consecutive offsets and a chunk stops at the first message end") {
  SendBuffer buffer(1 << 16);
  REQUIRE(append(buffer, 10) == AppendStatus::accepted);
  REQUIRE(append(buffer, 20) == AppendStatus::accepted);
  REQUIRE(append(buffer, 5) == AppendStatus::accepted);
  CHECK(buffer.end_offset() == 35);
  CHECK(buffer.bytes_unsent() == 35);
  CHECK(take(buffer, 1000) == SendChunk{.offset = 0, .length = 10, .message_end = true});
  CHECK(take(buffer, 1000) == SendChunk{.offset = 10, .length = 20, .message_end = true});
  CHECK(take(buffer, 1000) == SendChunk{.offset = 30, .length = 5, .message_end = true});
  CHECK_FALSE(buffer.next_chunk(1000));
  CHECK(buffer.highest_sent() == 35);
  CHECK(buffer.bytes_unsent() == 0);
}

TEST_CASE("a message spanning many chunks has its end only on the last one") {
  SendBuffer buffer(1 << 16);
  REQUIRE(append(buffer, 1000) == AppendStatus::accepted);
  REQUIRE(append(buffer, 1) == AppendStatus::accepted);
  for (int i = 0; i < 3; ++i) {
    const auto chunk = take(buffer, 300);
    CHECK(chunk.length == 300);
    CHECK_FALSE(chunk.message_end);
  }
  CHECK(take(buffer, 300) == SendChunk{.offset = 900, .length = 100, .message_end = true});
  CHECK(take(buffer, 300) == SendChunk{.offset = 1000, .length = 1, .message_end = true});
}

TEST_CASE("a chunk that exactly reaches a message end is marked") {
  SendBuffer buffer(1 << 16);
  REQUIRE(append(buffer, 100) == AppendStatus::accepted);
  REQUIRE(append(buffer, 100) == AppendStatus::accepted);
  CHECK(take(buffer, 100) == SendChunk{.offset = 0, .length = 100, .message_end = true});
  CHECK(take(buffer, 99) == SendChunk{.offset = 100, .length = 99});
  CHECK(take(buffer, 99) == SendChunk{.offset = 199, .length = 1, .message_end = true});
}

TEST_CASE("append is back-pressured when full, takes nothing, and accepts after acks") {
  SendBuffer buffer(100);
  REQUIRE(append(buffer, 60) == AppendStatus::accepted);
  CHECK(append(buffer, 41) == AppendStatus::back_pressured);
  CHECK_FALSE(is_error(AppendStatus::back_pressured));
  CHECK(buffer.end_offset() == 60);  // nothing of the refused message was taken
  REQUIRE(append(buffer, 40) == AppendStatus::accepted);
  CHECK(buffer.free_space() == 0);
  CHECK(append(buffer, 1) == AppendStatus::back_pressured);
  take(buffer, 1000);
  take(buffer, 1000);
  CHECK(append(buffer, 1) == AppendStatus::back_pressured);  // sent is not acknowledged
  buffer.on_acked(0, 60);
  CHECK(buffer.free_space() == 60);
  CHECK(append(buffer, 60) == AppendStatus::accepted);
  CHECK(take(buffer, 1000) == SendChunk{.offset = 100, .length = 60, .message_end = true});
}

TEST_CASE("append rejects empty, oversized and post-finish messages as errors") {
  SendBuffer buffer(100);
  CHECK(append(buffer, 0) == AppendStatus::empty);
  CHECK(append(buffer, 101) == AppendStatus::too_large);
  CHECK(is_error(AppendStatus::too_large));
  CHECK(is_error(AppendStatus::empty));
  REQUIRE(append(buffer, 100) == AppendStatus::accepted);
  buffer.finish();
  CHECK(append(buffer, 1) == AppendStatus::finished);
  CHECK(is_error(AppendStatus::finished));
  CHECK(to_string(AppendStatus::back_pressured) == "back_pressured");
  CHECK(buffer.final_size() == 100u);
}

TEST_CASE("lost bytes go out again before new data, lowest offset first") {
  SendBuffer buffer(1 << 16);
  for (int i = 0; i < 10; ++i) REQUIRE(append(buffer, 100) == AppendStatus::accepted);
  for (int i = 0; i < 6; ++i) take(buffer, 100);
  buffer.on_lost(400, 100);
  buffer.on_lost(100, 100);
  buffer.on_lost(250, 10);  // inside a message: no message end in the retransmission
  CHECK(buffer.bytes_lost() == 210);
  CHECK(buffer.has_data_to_send());
  CHECK(take(buffer, 1000) ==
        SendChunk{.offset = 100, .length = 100, .message_end = true, .retransmission = true});
  CHECK(take(buffer, 1000) == SendChunk{.offset = 250, .length = 10, .retransmission = true});
  // A retransmission may be cut smaller than the original.
  CHECK(take(buffer, 30) == SendChunk{.offset = 400, .length = 30, .retransmission = true});
  CHECK(take(buffer, 1000) ==
        SendChunk{.offset = 430, .length = 70, .message_end = true, .retransmission = true});
  CHECK(buffer.bytes_lost() == 0);
  CHECK(take(buffer, 1000) == SendChunk{.offset = 600, .length = 100, .message_end = true});
}

TEST_CASE("lost ranges that touch merge and a retransmission still stops at message ends") {
  SendBuffer buffer(1 << 16);
  for (int i = 0; i < 4; ++i) REQUIRE(append(buffer, 50) == AppendStatus::accepted);
  take(buffer, 1000);
  take(buffer, 1000);
  take(buffer, 1000);
  buffer.on_lost(0, 50);
  buffer.on_lost(50, 100);
  CHECK(buffer.bytes_lost() == 150);
  CHECK(take(buffer, 1000).length == 50);
  CHECK(take(buffer, 1000) ==
        SendChunk{.offset = 50, .length = 50, .message_end = true, .retransmission = true});
  CHECK(take(buffer, 1000).offset == 100);
  CHECK(take(buffer, 1000) == SendChunk{.offset = 150, .length = 50, .message_end = true});
}

TEST_CASE("acknowledged bytes are released and memory stays within the capacity") {
  SendBuffer buffer(10'000);
  std::uint64_t appended = 0;
  for (int round = 0; round < 1000; ++round) {
    while (append(buffer, 700) == AppendStatus::accepted) appended += 700;
    while (auto chunk = buffer.next_chunk(1200)) {
      check_bytes(buffer, *chunk);
      buffer.on_acked(chunk->offset, chunk->length);
    }
    CHECK(buffer.bytes_buffered() == 0);
    CHECK(buffer.acked_prefix() == appended);
    REQUIRE(buffer.allocated() <= buffer.capacity());
  }
  CHECK(appended > 1'000'000);
}

TEST_CASE("acknowledgements out of order release only the acknowledged prefix") {
  SendBuffer buffer(1000);
  for (int i = 0; i < 10; ++i) REQUIRE(append(buffer, 100) == AppendStatus::accepted);
  for (int i = 0; i < 10; ++i) take(buffer, 1000);
  buffer.on_acked(100, 100);
  buffer.on_acked(300, 200);
  CHECK(buffer.acked_prefix() == 0);
  CHECK(buffer.free_space() == 0);
  buffer.on_acked(0, 100);
  CHECK(buffer.acked_prefix() == 200);
  buffer.on_acked(200, 100);
  CHECK(buffer.acked_prefix() == 500);
  CHECK(buffer.free_space() == 500);
  std::vector<std::byte> out(10);
  CHECK(buffer.copy_out(100, out) == 0);  // released
  CHECK(buffer.copy_out(500, out) == 10);
}

TEST_CASE("a spurious loss acknowledged later is not sent again") {
  SendBuffer buffer(1 << 16);
  for (int i = 0; i < 3; ++i) REQUIRE(append(buffer, 100) == AppendStatus::accepted);
  for (int i = 0; i < 3; ++i) take(buffer, 1000);
  buffer.on_lost(0, 300);
  buffer.on_acked(50, 200);  // the "lost" packets arrive after all
  CHECK(buffer.bytes_lost() == 100);
  CHECK(take(buffer, 1000) == SendChunk{.offset = 0, .length = 50, .retransmission = true});
  CHECK(take(buffer, 1000) ==
        SendChunk{.offset = 250, .length = 50, .message_end = true, .retransmission = true});
  CHECK_FALSE(buffer.next_chunk(1000));
}

TEST_CASE("a loss reported after the acknowledgement is ignored for the acknowledged part") {
  SendBuffer buffer(1 << 16);
  REQUIRE(append(buffer, 300) == AppendStatus::accepted);
  take(buffer, 100);
  take(buffer, 100);
  take(buffer, 100);
  buffer.on_acked(100, 100);
  buffer.on_acked(250, 10);
  buffer.on_lost(0, 300);
  CHECK(buffer.bytes_lost() == 190);
  CHECK(take(buffer, 1000) == SendChunk{.offset = 0, .length = 100, .retransmission = true});
  CHECK(take(buffer, 1000) == SendChunk{.offset = 200, .length = 50, .retransmission = true});
  CHECK(take(buffer, 1000) ==
        SendChunk{.offset = 260, .length = 40, .message_end = true, .retransmission = true});
  buffer.on_lost(0, 1000);  // unsent offsets are not "lost"
  CHECK(buffer.bytes_lost() == 190);
}

TEST_CASE("FIN rides on the chunk that reaches the final size") {
  SendBuffer buffer(1 << 16);
  REQUIRE(append(buffer, 100) == AppendStatus::accepted);
  buffer.finish();
  buffer.finish();
  CHECK(take(buffer, 60) == SendChunk{.offset = 0, .length = 60});
  CHECK(take(buffer, 60) ==
        SendChunk{.offset = 60, .length = 40, .fin = true, .message_end = true});
  CHECK_FALSE(buffer.has_data_to_send());
  buffer.on_lost(60, 40, true);
  CHECK(take(buffer, 60) ==
        SendChunk{
            .offset = 60, .length = 40, .fin = true, .message_end = true, .retransmission = true});
  CHECK_FALSE(buffer.next_chunk(60));
  buffer.on_acked(0, 100, true);
  CHECK(buffer.all_acked());
}

TEST_CASE("a FIN after everything was sent goes alone, and again when lost") {
  SendBuffer buffer(1 << 16);
  REQUIRE(append(buffer, 10) == AppendStatus::accepted);
  take(buffer, 100);
  buffer.finish();
  CHECK(buffer.has_data_to_send());
  CHECK(buffer.next_chunk(0) == SendChunk{.offset = 10, .fin = true});
  CHECK_FALSE(buffer.next_chunk(100));
  buffer.on_acked(0, 10);
  CHECK_FALSE(buffer.all_acked());
  buffer.on_lost(10, 0, true);
  CHECK(buffer.next_chunk(100) == SendChunk{.offset = 10, .fin = true, .retransmission = true});
  buffer.on_acked(10, 0, true);
  CHECK(buffer.all_acked());
  buffer.on_lost(10, 0, true);  // acknowledged wins
  CHECK_FALSE(buffer.next_chunk(100));
}

TEST_CASE("an empty finished stream sends one bare FIN") {
  SendBuffer buffer(16);
  buffer.finish();
  CHECK(buffer.next_chunk(100) == SendChunk{.offset = 0, .fin = true});
  CHECK_FALSE(buffer.next_chunk(100));
  buffer.on_acked(0, 0, true);
  CHECK(buffer.all_acked());
}

TEST_CASE("bytes survive the ring wrapping around and growing") {
  SendBuffer buffer(5000);
  std::uint64_t acked = 0;
  for (int round = 0; round < 200; ++round) {
    while (append(buffer, 1 + (round * 37) % 900) == AppendStatus::accepted) {
    }
    // Send everything, acknowledge only the first half: the rest stays across the wrap.
    std::vector<SendChunk> chunks;
    while (auto chunk = buffer.next_chunk(333)) chunks.push_back(*chunk);
    for (const auto& chunk : chunks) check_bytes(buffer, chunk);
    const std::uint64_t half = acked + (buffer.highest_sent() - acked) / 2;
    buffer.on_acked(acked, half - acked);
    acked = buffer.acked_prefix();
    CHECK(acked == half);
    std::vector<std::byte> out(buffer.highest_sent() - acked);
    REQUIRE(buffer.copy_out(acked, out) == out.size());
    CHECK(out == message_at(acked, out.size()));
  }
  CHECK(buffer.allocated() == buffer.capacity());
}

TEST_CASE("a ring of megabytes (huge-page aligned) grows and wraps with every byte intact") {
  SendBuffer buffer(3'000'007);  // above one 2 MiB huge page, and not a multiple of it
  std::uint64_t acked = 0;
  for (int round = 0; round < 12; ++round) {
    while (append(buffer, 50'000 + static_cast<std::size_t>(round) * 997) ==
           AppendStatus::accepted) {
    }
    while (auto chunk = buffer.next_chunk(1447)) {
      if (chunk->offset % 7 == 0) check_bytes(buffer, *chunk);
    }
    const std::uint64_t half = acked + (buffer.highest_sent() - acked) / 2;
    buffer.on_acked(acked, half - acked);
    acked = buffer.acked_prefix();
    REQUIRE(acked == half);
    std::vector<std::byte> out(buffer.highest_sent() - acked);
    REQUIRE(buffer.copy_out(acked, out) == out.size());
    CHECK(out == message_at(acked, out.size()));
  }
  CHECK(buffer.allocated() == buffer.capacity());
}

TEST_CASE("message_end_after finds the end of the message holding an offset") {
  SendBuffer buffer(1000);
  REQUIRE(buffer.append(std::vector<std::byte>(10, std::byte{1})) == AppendStatus::accepted);
  REQUIRE(buffer.append(std::vector<std::byte>(5, std::byte{2})) == AppendStatus::accepted);
  CHECK(buffer.message_end_after(0) == 10);
  CHECK(buffer.message_end_after(9) == 10);
  CHECK(buffer.message_end_after(10) == 15);
  CHECK(buffer.message_end_after(14) == 15);
  CHECK_FALSE(buffer.message_end_after(15).has_value());
}
