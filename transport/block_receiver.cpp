#include "transport/block_receiver.h"

#include <iterator>

#include "simd/checksum.h"
#include "simd/xor_delta.h"

namespace dwcp::transport {
namespace {

using proto::TransportError;

bool same_record(const proto::DeltaBlockFrame& a, const proto::DeltaBlockFrame& b) noexcept {
  return a.key == b.key && a.base_version == b.base_version && a.new_version == b.new_version &&
         a.block_length == b.block_length && a.block_crc32c == b.block_crc32c &&
         a.encoding == b.encoding && a.record_length == b.record_length;
}

}  // namespace

std::optional<BlockError> BlockReceiver::on_frame(const proto::DeltaBlockFrame& frame,
                                                  std::uint64_t consumed) {
  const std::uint64_t start = frame.record_offset;
  const std::uint64_t end = start + frame.record_length;  // the codec checked the sum
  if (end <= consumed) return std::nullopt;               // a late copy of a record read
  if (start < consumed) {
    return BlockError{TransportError::protocol_violation, "DELTA_BLOCK record across data read"};
  }
  auto next = records_.lower_bound(start);
  if (next != records_.end() && next->first == start) {
    if (same_record(next->second, frame)) return std::nullopt;
    return BlockError{TransportError::protocol_violation, "DELTA_BLOCK headers of a record differ"};
  }
  const bool overlaps_next = next != records_.end() && next->first < end;
  const bool overlaps_previous =
      next != records_.begin() &&
      std::prev(next)->first + std::prev(next)->second.record_length > start;
  if (overlaps_next || overlaps_previous) {
    return BlockError{TransportError::protocol_violation, "DELTA_BLOCK records overlap"};
  }
  proto::DeltaBlockFrame header = frame;
  header.fragment = {};
  header.fragment_offset = 0;
  header.fin = false;
  records_.emplace_hint(next, start, header);
  return std::nullopt;
}

const proto::DeltaBlockFrame* BlockReceiver::record_at(std::uint64_t offset) const noexcept {
  auto it = records_.find(offset);
  return it == records_.end() ? nullptr : &it->second;
}

bool BlockReceiver::record_starts_within(std::uint64_t from, std::uint64_t to) const noexcept {
  auto it = records_.upper_bound(from);
  return it != records_.end() && it->first < to;
}

std::expected<BlockReceiver::Outcome, BlockError> BlockReceiver::process(
    std::uint64_t offset, std::span<const std::byte> record) {
  auto found = records_.find(offset);
  if (found == records_.end()) {
    return std::unexpected(BlockError{TransportError::internal_error, "no such record"});
  }
  const proto::DeltaBlockFrame header = found->second;
  records_.erase(found);
  if (record.size() != header.record_length) {
    return std::unexpected(BlockError{TransportError::protocol_violation,
                                      "a message ends inside a DELTA_BLOCK record"});
  }

  if (header.encoding == proto::BlockEncoding::whole) {
    ready_.assign(record.begin(), record.end());
    // The packet checksums verified these bytes: a mismatch is the sender's own error.
    if (simd::crc32c(ready_) != header.block_crc32c) {
      return std::unexpected(
          BlockError{TransportError::protocol_violation, "a whole block failed its CRC32C"});
    }
    if (BlockCache::Entry* entry = cache_.update(header.key, header.new_version, ready_.size())) {
      entry->bytes.assign(ready_.begin(), ready_.end());
      entry->poisoned = false;
    }
    due_.erase(header.key);
    sent_.erase(header.key);
    ready(header);
    return Outcome::delivered;
  }

  BlockCache::Entry* base = cache_.find(header.key);
  if (base == nullptr || base->version != header.base_version) {
    return std::unexpected(
        BlockError{TransportError::protocol_violation, "DELTA_BLOCK against a version not held"});
  }
  const auto length = simd::delta_block_size(record);
  if (!length || *length != header.block_length) {
    return std::unexpected(BlockError{TransportError::frame_encoding_error,
                                      "XOR delta of another length than its block"});
  }
  if (base->poisoned) {
    ++counters_.poisoned_drops;
    poison(header.key, header.new_version, header.block_length);
    return Outcome::dropped;
  }
  ready_.resize(header.block_length);
  if (!simd::decode_delta(base->bytes, record, ready_)) {
    return std::unexpected(BlockError{TransportError::frame_encoding_error, "malformed XOR delta"});
  }
  if (simd::crc32c(ready_) != header.block_crc32c) {
    ++counters_.crc_failures;
    poison(header.key, header.new_version, header.block_length);
    return Outcome::dropped;
  }
  if (BlockCache::Entry* entry = cache_.update(header.key, header.new_version, ready_.size())) {
    entry->bytes.assign(ready_.begin(), ready_.end());
  }
  ready(header);
  return Outcome::delivered;
}

void BlockReceiver::poison(std::uint64_t key, std::uint64_t version, std::uint64_t length) {
  BlockCache::Entry* entry = cache_.update(key, version, length);
  if (entry == nullptr) {
    // Too large to cache: the sender keeps no copy either, so there is nothing to ask for.
    ++counters_.uncached_failures;
    return;
  }
  entry->bytes.clear();
  entry->bytes.shrink_to_fit();
  // Requests sent for keys evicted since: more of them than keys cached means some are.
  if (sent_.size() > cache_.size()) {
    std::erase_if(sent_, [this](const auto& request) {
      const BlockCache::Entry* e = cache_.find(request.first);
      return e == nullptr || !e->poisoned;
    });
  }
  if (entry->poisoned) return;  // asked already
  entry->poisoned = true;
  due_[key] = version;
  ++counters_.requests;
}

void BlockReceiver::ready(const proto::DeltaBlockFrame& header) {
  has_ready_ = true;
  ready_key_ = header.key;
  ready_version_ = header.new_version;
  ++counters_.delivered;
}

std::vector<proto::BlockRequestFrame> BlockReceiver::take_due_requests(std::uint64_t stream_id,
                                                                       std::size_t max_count) {
  std::vector<proto::BlockRequestFrame> out;
  for (auto it = due_.begin(); it != due_.end() && out.size() < max_count;) {
    const BlockCache::Entry* entry = cache_.find(it->first);
    if (entry != nullptr && entry->poisoned) {
      out.push_back({stream_id, it->first, entry->version});
      sent_[it->first] = entry->version;
    } else {
      sent_.erase(it->first);
    }
    it = due_.erase(it);
  }
  return out;
}

void BlockReceiver::on_requests_lost() {
  for (auto it = sent_.begin(); it != sent_.end();) {
    const BlockCache::Entry* entry = cache_.find(it->first);
    if (entry == nullptr || !entry->poisoned) {
      it = sent_.erase(it);  // healed or evicted meanwhile
      continue;
    }
    due_[it->first] = it->second;
    ++it;
  }
}

bool BlockReceiver::corrupt_for_testing(std::uint64_t key) {
  BlockCache::Entry* entry = cache_.find(key);
  if (entry == nullptr || entry->bytes.empty()) return false;
  entry->bytes[entry->bytes.size() / 2] ^= std::byte{0x5a};
  return true;
}

}  // namespace dwcp::transport
