// Drives ReorderBuffer with byte-coded STREAM frames cut from a reference stream (some
// honest, some wild: past the final size, a second final size, past the credit, stray MSG
// marks, different bytes over old ones), reads, small reads and credit updates, and checks
// every step against a plain model (one entry per offset): the outcome of each insert,
// the bytes buffered, where the next whole message ends, and every delivered message.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

#include "tests/fuzz/stream_fuzz_support.h"
#include "transport/reorder_buffer.h"

namespace {

using dwcp::transport::ReorderBuffer;
using dwcp::transport::ReorderError;
using dwcp::transport::ReorderStatus;

using dwcp::fuzz::check;
using dwcp::fuzz::Input;
using dwcp::fuzz::reference_byte;

// What the receiver should do, one entry per offset; slow and obviously right.
struct Model {
  std::vector<int> bytes;        // -1: not received
  std::set<std::uint64_t> ends;  // last bytes of messages
  std::uint64_t delivered = 0;
  std::uint64_t highest = 0;
  std::uint64_t buffered = 0;
  std::uint64_t limit = 0;
  std::optional<std::uint64_t> final_size;

  ReorderStatus insert(std::uint64_t offset, const std::vector<std::byte>& data, bool fin,
                       bool message_end) {
    const std::uint64_t end = offset + data.size();
    if (final_size) {
      if (end > *final_size || (fin && end != *final_size)) return ReorderError::final_size;
    } else if (fin && end < highest) {
      return ReorderError::final_size;
    }
    if (end > limit) return ReorderError::flow_control;
    highest = std::max(highest, end);
    for (std::uint64_t at = std::max(offset, delivered); at < end; ++at) {
      if (bytes[at] < 0) {
        bytes[at] = static_cast<int>(data[at - offset]);
        ++buffered;
      }
    }
    if (end > delivered && ((message_end && !data.empty()) || (fin && !final_size))) {
      ends.insert(end - 1);
    }
    if (fin) final_size = end;
    return std::nullopt;
  }

  std::uint64_t contiguous() const {
    std::uint64_t at = delivered;
    while (at < bytes.size() && bytes[at] >= 0) ++at;
    return at;
  }

  std::optional<std::uint64_t> next_message_size() const {
    const auto end = ends.lower_bound(delivered);
    if (end == ends.end() || *end >= contiguous()) return std::nullopt;
    return *end + 1 - delivered;
  }
};

void check_state(const ReorderBuffer& buffer, const Model& model, std::size_t block_size) {
  check(buffer.consumed() == model.delivered);
  check(buffer.bytes_buffered() == model.buffered);
  check(buffer.bytes_buffered() <= buffer.offset_limit() - buffer.consumed());
  check(buffer.highest_received() == model.highest);
  check(buffer.final_size() == model.final_size);
  check(buffer.contiguous() == model.contiguous());
  check(buffer.next_message_size() == model.next_message_size());
  check(buffer.finished() == (model.final_size && model.delivered == *model.final_size));
  // Storage only for blocks between the delivered point and the credit limit.
  const std::uint64_t first = model.delivered / block_size;
  const std::uint64_t last = std::max(model.limit, std::uint64_t{1}) / block_size;
  // Data, two bits per byte, and a summary word per 4 KiB (or part of it).
  check(buffer.allocated_bytes() <=
        (last - first + 1) * (block_size + block_size / 4 + 8 * ((block_size + 4095) / 4096)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::size_t block_size = std::size_t{64} << (in.byte() % 4);
  const std::uint64_t window = 64 + in.u16() % 4096;
  // The reference stream: messages of 1..max_message bytes up to a final size near
  // `target`; no message is larger than the window, so the stream can always finish.
  const std::uint64_t max_message = 1 + in.byte() % std::min<std::uint64_t>(window, 255);
  const std::uint64_t target = 64 + (in.byte() % 32) * 128;
  std::vector<std::uint64_t> ref_ends;  // one past each message's last byte
  std::uint32_t lcg = 0x2545f491u ^ static_cast<std::uint32_t>(max_message * 7919 + target);
  for (std::uint64_t end = 0; end < target;) {
    lcg = lcg * 1664525u + 1013904223u;
    end += 1 + (lcg >> 8) % max_message;
    ref_ends.push_back(end);
  }
  const std::uint64_t final_size = ref_ends.back();
  const std::uint64_t span = final_size + 256;

  ReorderBuffer buffer(window, block_size);
  Model model;
  model.bytes.assign(span + 64, -1);
  model.limit = window;
  bool wild_taken = false;       // a wild frame was accepted
  bool different_taken = false;  // ... with bytes other than the reference's
  std::vector<std::byte> out;

  while (!in.empty()) {
    const std::uint8_t kind = in.byte();
    const std::uint16_t where = in.u16();
    const std::uint8_t amount = in.byte();
    switch (kind % 8) {
      case 0:
      case 1:
      case 2:
      case 3: {
        // An honest frame: cut at the first message end after its offset, MSG when it
        // ends one, FIN (when bit 3 says so) when it reaches the final size.
        const std::uint64_t offset = where % final_size;
        const auto next_end = std::upper_bound(ref_ends.begin(), ref_ends.end(), offset);
        const std::uint64_t end = std::min(*next_end, offset + 1 + amount);
        std::vector<std::byte> bytes(end - offset);
        for (std::uint64_t i = 0; i < bytes.size(); ++i) {
          bytes[i] = static_cast<std::byte>(reference_byte(offset + i));
        }
        const bool message_end = end == *next_end;
        const bool fin = end == final_size && (kind & 8) != 0;
        const ReorderStatus expected = model.insert(offset, bytes, fin, message_end);
        check(buffer.insert(offset, bytes, fin, message_end) == expected);
        // Errors only for invalid input: honest frames inside the credit are always taken.
        if (!wild_taken && end <= model.limit) check(!expected.has_value());
        break;
      }
      case 4: {
        // A wild frame: any range (possibly empty), any flags, maybe different bytes.
        const std::uint64_t offset = where % span;
        std::vector<std::byte> bytes(amount % 64);
        const bool different = (kind & 0x40) != 0;
        for (std::uint64_t i = 0; i < bytes.size(); ++i) {
          bytes[i] = static_cast<std::byte>(reference_byte(offset + i) ^ (different ? 0x5a : 0));
        }
        const bool message_end = (kind & 0x10) != 0;
        const bool fin = (kind & 0x20) != 0;
        const ReorderStatus expected = model.insert(offset, bytes, fin, message_end);
        check(buffer.insert(offset, bytes, fin, message_end) == expected);
        if (!expected.has_value()) {
          wild_taken = true;
          different_taken = different_taken || (different && !bytes.empty());
        }
        break;
      }
      case 5:
      case 6: {
        const auto message_size = model.next_message_size();
        out.assign(message_size.value_or(0) + amount % 4, std::byte{0});
        const auto read = buffer.read_message(out);
        check(read == message_size);
        if (!read) break;
        for (std::uint64_t i = 0; i < *read; ++i) {
          const std::uint64_t at = model.delivered + i;
          check(static_cast<int>(out[i]) == model.bytes[at]);
          if (!different_taken) check(static_cast<std::uint8_t>(out[i]) == reference_byte(at));
        }
        model.buffered -= *read;
        model.delivered += *read;
        break;
      }
      default: {
        if ((kind & 0x10) != 0) {
          // A read into too small a buffer consumes nothing.
          const auto message_size = model.next_message_size();
          if (message_size) {
            out.assign(*message_size - 1, std::byte{0});
            check(!buffer.read_message(out).has_value());
          }
        } else {
          // Credit grows as the application consumes (or a lower value is ignored).
          const std::uint64_t limit =
              (kind & 0x20) != 0 ? model.delivered + window : where % (span + 64);
          buffer.set_offset_limit(limit);
          model.limit = std::max(model.limit, limit);
        }
        break;
      }
    }
    check_state(buffer, model, block_size);
  }
  return 0;
}
