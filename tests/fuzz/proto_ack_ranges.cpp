// Drives AckRanges through a byte-coded sequence of add() and remove_below() calls and
// checks it after every step against a model: a std::set of the recorded numbers and a
// floor, with the smallest range forgotten whenever there are more than max_ranges.
//
// Input: byte 0 picks max_ranges (0: the default, else 1..16). Then one operation a byte:
//   0x00-0x7f  add(largest + (b & 0x7f) - 48): in order, ahead, reordered, duplicates
//   0x80-0x9f  add(largest + 1 + 64 * next byte): a jump, leaving a gap
//   0xa0-0xbf  add(floor + (b & 0x1f) - 4): around the floor
//   0xc0-0xdf  remove_below(largest - 4 * (b & 0x1f)), or the floor + that if lower
//   0xe0-0xef  add near kMaxVarint (some above it)
//   0xf0-0xff  remove_below(floor + (b & 0x0f))
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <set>
#include <span>
#include <vector>

#include "proto/ack_ranges.h"
#include "proto/frames.h"
#include "proto/varint.h"
#include "tests/fuzz/proto_fuzz_support.h"

namespace {

using namespace dwcp::proto;
using dwcp::fuzz::check;

struct Model {
  std::set<std::uint64_t> numbers;
  std::uint64_t floor = 0;
  std::size_t max_ranges = 0;

  [[nodiscard]] std::vector<PacketRange> ranges() const {
    std::vector<PacketRange> out;
    for (auto it = numbers.rbegin(); it != numbers.rend(); ++it) {
      if (!out.empty() && out.back().smallest == *it + 1) {
        out.back().smallest = *it;
      } else {
        out.push_back({*it, *it});
      }
    }
    return out;
  }
  bool add(std::uint64_t pn) {
    if (pn < floor || pn > kMaxVarint || !numbers.insert(pn).second) return false;
    const auto current = ranges();
    if (current.size() > max_ranges) {
      const PacketRange oldest = current.back();
      numbers.erase(numbers.begin(), numbers.upper_bound(oldest.largest));
      floor = oldest.largest + 1;
    }
    return true;
  }
  void remove_below(std::uint64_t pn) {
    if (pn <= floor) return;
    floor = pn;
    numbers.erase(numbers.begin(), numbers.lower_bound(pn));
  }
};

void check_state(const AckRanges& ranges, const Model& model, std::uint64_t last) {
  const auto got = ranges.ranges();
  check(dwcp::fuzz::ranges_well_formed(got), "ranges not descending, disjoint, non-adjacent");
  check(got.size() == ranges.size() && got.size() <= ranges.max_ranges(),
        "more ranges than max_ranges");
  check(ranges.floor() == model.floor, "floor differs from the model");
  for (const PacketRange& r : got) check(r.smallest >= ranges.floor(), "a range below floor");
  const auto expected = model.ranges();
  check(std::ranges::equal(got, expected), "ranges differ from the model");
  check(ranges.empty() == model.numbers.empty(), "empty() differs from the model");
  check(ranges.largest() == (model.numbers.empty() ? 0 : *model.numbers.rbegin()),
        "largest() differs from the model");

  // contains() at every range edge, around the last number touched and around the floor.
  std::vector<std::uint64_t> probes{ranges.floor(), last};
  for (const PacketRange& r : got) {
    probes.push_back(r.smallest);
    probes.push_back(r.largest);
  }
  for (const std::uint64_t p : probes) {
    for (std::uint64_t q = p > 2 ? p - 2 : 0; q <= p + 2; ++q) {
      const bool in_model = q >= model.floor && model.numbers.count(q) != 0;
      check(ranges.contains(q) == in_model, "contains() differs from the model");
    }
  }

  if (got.empty()) return;
  std::vector<std::byte> out(16 * got.size() + 32);
  const auto size = encode_ack(out, got, 0);
  check(size.has_value(), "encode_ack rejects AckRanges::ranges()");
  const auto decoded = decode_frame(std::span(out).first(*size));
  check(decoded && std::holds_alternative<AckFrame>(decoded->first),
        "decode_frame rejects the ACK of AckRanges::ranges()");
  const auto& ack = std::get<AckFrame>(decoded->first);
  dwcp::fuzz::check_ack(ack);
  check(dwcp::fuzz::collect_ranges(ack) == expected, "ACK of ranges() decodes to other ranges");
}

std::uint64_t near(std::uint64_t base, std::uint64_t up, std::uint64_t down) {
  return base + up >= down ? base + up - down : 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t max_ranges = data[0] == 0 ? kMaxAckRanges + 1 : 1 + data[0] % 16;
  AckRanges ranges(max_ranges);
  check(ranges.max_ranges() == max_ranges, "max_ranges() differs from the constructor's");
  Model model;
  model.max_ranges = max_ranges;
  for (std::size_t i = 1; i < size; ++i) {
    const std::uint8_t b = data[i];
    const std::uint64_t largest = ranges.largest();
    std::uint64_t pn = 0;
    bool is_add = true;
    if (b < 0x80) {
      pn = near(largest, b & 0x7f, 48);
    } else if (b < 0xa0) {
      const std::uint64_t step = i + 1 < size ? data[++i] : 0;
      pn = largest + 1 + 64 * step;
    } else if (b < 0xc0) {
      pn = near(ranges.floor(), b & 0x1f, 4);
    } else if (b < 0xe0) {
      is_add = false;
      pn = near(largest, 0, 4 * (b & 0x1fu));
      if (pn < ranges.floor()) pn = ranges.floor() + (b & 0x1f);
    } else if (b < 0xf0) {
      pn = kMaxVarint - 8 + (b & 0x0f);
    } else {
      is_add = false;
      pn = ranges.floor() + (b & 0x0f);
    }
    if (is_add) {
      const bool added = ranges.add(pn);
      check(added == model.add(pn), "add() result differs from the model");
    } else {
      ranges.remove_below(pn);
      model.remove_below(pn);
    }
    check_state(ranges, model, pn);
  }
  return 0;
}
