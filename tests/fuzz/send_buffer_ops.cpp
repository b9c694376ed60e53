// Drives SendBuffer with byte-coded appends, chunk requests, acknowledgements, losses
// (some spurious, some overlapping acknowledged bytes) and finish(), and checks every step
// against a plain model with one entry per offset: each append status, each chunk exactly
// (retransmissions first from the lowest lost offset, cut at the first message end), the
// bytes it carries, and the buffer's accounting.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

#include "tests/fuzz/stream_fuzz_support.h"
#include "transport/send_buffer.h"

namespace {

using dwcp::transport::AppendStatus;
using dwcp::transport::SendBuffer;
using dwcp::transport::SendChunk;

using dwcp::fuzz::check;
using dwcp::fuzz::Input;
using dwcp::fuzz::reference_byte;

struct Model {
  std::size_t capacity = 0;
  std::uint64_t end = 0;
  std::uint64_t sent = 0;
  std::vector<bool> acked;  // per offset below `sent`
  std::vector<bool> lost;
  std::uint64_t prefix = 0;  // every offset below is acknowledged
  std::uint64_t lost_count = 0;
  std::set<std::uint64_t> message_ends;  // one past each message's last byte
  std::optional<std::uint64_t> final_size;
  bool fin_sent = false;
  bool fin_lost = false;
  bool fin_acked = false;

  std::uint64_t acked_prefix() const { return prefix; }
  std::uint64_t lost_bytes() const { return lost_count; }
  void set_lost(std::uint64_t at, bool value) {
    if (lost[at] != value) lost_count = value ? lost_count + 1 : lost_count - 1;
    lost[at] = value;
  }

  AppendStatus append(std::size_t size) {
    if (final_size) return AppendStatus::finished;
    if (size == 0) return AppendStatus::empty;
    if (size > capacity) return AppendStatus::too_large;
    if (size > capacity - (end - acked_prefix())) return AppendStatus::back_pressured;
    end += size;
    message_ends.insert(end);
    return AppendStatus::accepted;
  }

  std::uint64_t cut(std::uint64_t offset, std::uint64_t max_bytes, bool& message_end) const {
    const auto next = message_ends.upper_bound(offset);
    message_end = next != message_ends.end() && *next - offset <= max_bytes;
    return message_end ? *next - offset : max_bytes;
  }

  std::optional<SendChunk> next_chunk(std::uint64_t max_bytes) {
    const auto first_lost =
        std::find(lost.begin() + static_cast<std::ptrdiff_t>(prefix), lost.end(), true);
    if (max_bytes > 0 && first_lost != lost.end()) {
      const auto begin = static_cast<std::uint64_t>(first_lost - lost.begin());
      std::uint64_t run = begin;
      while (run < sent && lost[run]) ++run;
      SendChunk chunk{.offset = begin, .retransmission = true};
      chunk.length = cut(begin, std::min(run - begin, max_bytes), chunk.message_end);
      for (std::uint64_t at = begin; at < begin + chunk.length; ++at) set_lost(at, false);
      chunk.fin = final_size == begin + chunk.length;
      if (chunk.fin) {
        fin_sent = true;
        fin_lost = false;
      }
      return chunk;
    }
    if (fin_lost) {
      fin_lost = false;
      return SendChunk{.offset = *final_size, .fin = true, .retransmission = true};
    }
    if (max_bytes > 0 && sent < end) {
      SendChunk chunk{.offset = sent};
      chunk.length = cut(sent, std::min(end - sent, max_bytes), chunk.message_end);
      sent += chunk.length;
      acked.resize(sent, false);
      lost.resize(sent, false);
      chunk.fin = final_size == sent;
      if (chunk.fin) fin_sent = true;
      return chunk;
    }
    if (final_size && !fin_sent && sent == end) {
      fin_sent = true;
      return SendChunk{.offset = end, .fin = true};
    }
    return std::nullopt;
  }

  void on_acked(std::uint64_t offset, std::uint64_t length, bool fin) {
    if (fin && fin_sent) {
      fin_acked = true;
      fin_lost = false;
    }
    for (std::uint64_t at = offset; at < std::min(offset + length, sent); ++at) {
      acked[at] = true;
      set_lost(at, false);
    }
    while (prefix < sent && acked[prefix]) ++prefix;
  }

  void on_lost(std::uint64_t offset, std::uint64_t length, bool fin) {
    if (fin && fin_sent && !fin_acked) fin_lost = true;
    for (std::uint64_t at = offset; at < std::min(offset + length, sent); ++at) {
      if (!acked[at]) set_lost(at, true);
    }
  }
};

void check_state(const SendBuffer& buffer, const Model& model) {
  const std::uint64_t prefix = model.acked_prefix();
  check(buffer.acked_prefix() == prefix);
  check(buffer.end_offset() == model.end);
  check(buffer.highest_sent() == model.sent);
  check(buffer.bytes_unsent() == model.end - model.sent);
  check(buffer.bytes_lost() == model.lost_bytes());
  check(buffer.bytes_buffered() == model.end - prefix);
  check(buffer.bytes_buffered() <= buffer.capacity());
  check(buffer.allocated() <= buffer.capacity());
  check(buffer.final_size() == model.final_size);
  check(buffer.all_acked() == (model.final_size && model.fin_acked && prefix == *model.final_size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  Model model;
  model.capacity = 1 + in.u16() % 2048;
  SendBuffer buffer(model.capacity);
  std::vector<std::byte> bytes;

  while (!in.empty()) {
    const std::uint8_t kind = in.byte();
    const std::uint16_t where = in.u16();
    const std::uint8_t amount = in.byte();
    switch (kind % 8) {
      case 0:
      case 1: {
        const std::size_t message_size = (kind & 0x80) != 0 ? where % (model.capacity + 2) : amount;
        bytes.resize(message_size);
        for (std::size_t i = 0; i < message_size; ++i)
          bytes[i] = static_cast<std::byte>(reference_byte(model.end + i));
        check(buffer.append(bytes) == model.append(message_size));
        break;
      }
      case 2:
      case 3: {
        const std::uint64_t max_bytes = (kind & 0x80) != 0 ? where % 4096 : amount;
        const auto chunk = buffer.next_chunk(max_bytes);
        check(chunk == model.next_chunk(max_bytes));
        if (!chunk) break;
        check(chunk->length <= max_bytes);
        bytes.assign(chunk->length + amount % 3, std::byte{0});
        check(buffer.copy_out(chunk->offset, bytes) ==
              std::min<std::uint64_t>(bytes.size(), model.end - chunk->offset));
        for (std::uint64_t i = 0; i < chunk->length; ++i) {
          check(bytes[i] == static_cast<std::byte>(reference_byte(chunk->offset + i)));
        }
        break;
      }
      case 4: {
        // Acknowledge a range near what was sent (sometimes past it).
        const std::uint64_t offset = model.sent == 0 ? 0 : where % (model.sent + 16);
        model.on_acked(offset, amount, (kind & 0x10) != 0);
        buffer.on_acked(offset, amount, (kind & 0x10) != 0);
        break;
      }
      case 5: {
        const std::uint64_t offset = model.sent == 0 ? 0 : where % (model.sent + 16);
        model.on_lost(offset, amount, (kind & 0x10) != 0);
        buffer.on_lost(offset, amount, (kind & 0x10) != 0);
        break;
      }
      case 6:
        if ((kind & 0x30) == 0x30) {
          buffer.finish();
          if (!model.final_size) model.final_size = model.end;
        }
        break;
      default: {
        // Copy an arbitrary held range.
        const std::uint64_t prefix = model.acked_prefix();
        const std::uint64_t offset =
            prefix + (model.end == prefix ? 0 : where % (model.end - prefix));
        bytes.assign(amount, std::byte{0});
        const std::size_t copied = buffer.copy_out(offset, bytes);
        check(copied == std::min<std::uint64_t>(amount, model.end - offset));
        for (std::size_t i = 0; i < copied; ++i)
          check(bytes[i] == static_cast<std::byte>(reference_byte(offset + i)));
        break;
      }
    }
    check_state(buffer, model);
  }
  return 0;
}
