#include "transport/block_sender.h"

#include <algorithm>

#include "proto/varint.h"
#include "simd/checksum.h"
#include "simd/xor_delta.h"

namespace dwcp::transport {
namespace {

// Every record field of a DELTA_BLOCK frame besides the ones that vary per fragment: the
// type, the CRC and the encoding.
constexpr std::size_t kFixedFields = 1 + 4 + 1;
// Block length, record length and fragment offset are at most 16 MiB: 4-byte varints.
constexpr std::size_t kBlockSizedFields = std::size_t{3} * 4;

}  // namespace

BlockSender::BlockSender(std::uint64_t stream_id, std::uint64_t cache_keys,
                         std::uint64_t cache_bytes, double margin)
    : stream_id_(stream_id), margin_(margin), cache_(cache_keys, cache_bytes) {}

BlockSender::Record BlockSender::prepare(std::uint64_t key, std::span<const std::byte> block) {
  Record record;
  proto::DeltaBlockFrame& h = record.header;
  h.stream_id = stream_id_;
  h.key = key;
  const auto known = versions_.find(key);
  h.new_version = known == versions_.end() ? 1 : known->second + 1;
  h.block_length = block.size();
  h.block_crc32c = simd::crc32c(block);
  h.encoding = proto::BlockEncoding::whole;
  h.record_length = block.size();
  record.bytes = block;
  const BlockCache::Entry* base = cache_.find(key);
  if (base == nullptr) return record;
  scratch_.resize(simd::max_encoded_size(block.size()));
  const auto encoded = simd::encode_delta(base->bytes, block, scratch_);
  const auto limit = static_cast<std::size_t>(static_cast<double>(block.size()) * (1.0 - margin_));
  if (!encoded || *encoded > limit || *encoded == 0) return record;
  h.encoding = proto::BlockEncoding::xor_delta;
  h.base_version = base->version;
  h.record_length = *encoded;
  record.bytes = std::span(scratch_).first(*encoded);
  return record;
}

void BlockSender::commit(const Record& record, std::uint64_t offset,
                         std::span<const std::byte> block) {
  const proto::DeltaBlockFrame& h = record.header;
  proto::DeltaBlockFrame stored = h;
  stored.record_offset = offset;
  records_.emplace(offset, stored);
  max_key_ = std::max(max_key_, h.key);
  max_version_ = std::max(max_version_, h.new_version);
  max_end_ = std::max(max_end_, offset + h.record_length);

  const bool whole = h.encoding == proto::BlockEncoding::whole;
  if (record.resend) {
    requests_.erase(requests_.begin());  // the request next_resend() answered
    ++counters_.resends;
    ++counters_.sent_whole;
    if (BlockCache::Entry* entry = cache_.update(h.key, h.new_version, h.block_length)) {
      entry->whole_version = h.new_version;  // its bytes are the ones just sent
    }
    return;
  }
  versions_[h.key] = h.new_version;
  if (whole) {
    ++counters_.sent_whole;
  } else {
    ++counters_.sent_delta;
    counters_.bytes_saved += h.block_length - h.record_length;
  }
  if (BlockCache::Entry* entry = cache_.update(h.key, h.new_version, h.block_length)) {
    entry->bytes.assign(block.begin(), block.end());
    if (whole) entry->whole_version = h.new_version;
  }
}

void BlockSender::on_request(std::uint64_t key, std::uint64_t version) {
  // Only keys the cache holds are kept, one request each: a flood of requests cannot grow
  // this past the cache's key count.
  const BlockCache::Entry* entry = cache_.find(key);
  if (entry == nullptr || entry->whole_version >= version) return;
  auto [it, inserted] = requests_.try_emplace(key, version);
  if (!inserted) it->second = std::max(it->second, version);
}

std::optional<BlockSender::Record> BlockSender::next_resend() {
  while (!requests_.empty()) {
    const auto [key, version] = *requests_.begin();
    const BlockCache::Entry* entry = cache_.find(key);
    if (entry == nullptr || entry->whole_version >= version) {
      requests_.erase(requests_.begin());  // evicted on both sides, or healed by a whole block
      continue;
    }
    Record record;
    proto::DeltaBlockFrame& h = record.header;
    h.stream_id = stream_id_;
    h.key = key;
    h.new_version = entry->version;
    h.block_length = entry->length;
    h.block_crc32c = simd::crc32c(entry->bytes);
    h.encoding = proto::BlockEncoding::whole;
    h.record_length = entry->length;
    record.bytes = entry->bytes;
    record.resend = true;
    return record;
  }
  return std::nullopt;
}

const proto::DeltaBlockFrame* BlockSender::record_at(std::uint64_t offset) const noexcept {
  auto it = records_.upper_bound(offset);
  if (it == records_.begin()) return nullptr;
  --it;
  const proto::DeltaBlockFrame& r = it->second;
  return offset - r.record_offset < r.record_length ? &r : nullptr;
}

void BlockSender::release_below(std::uint64_t acked) {
  while (!records_.empty()) {
    const proto::DeltaBlockFrame& first = records_.begin()->second;
    if (first.record_offset + first.record_length > acked) return;
    records_.erase(records_.begin());
  }
}

std::size_t BlockSender::header_size(const proto::DeltaBlockFrame& record,
                                     std::uint64_t fragment_offset, std::size_t room) noexcept {
  using proto::varint_size;
  return kFixedFields + varint_size(record.stream_id) + varint_size(record.record_offset) +
         varint_size(record.key) + varint_size(record.base_version) +
         varint_size(record.new_version) + varint_size(record.block_length) +
         varint_size(record.record_length) + varint_size(fragment_offset) + varint_size(room);
}

std::size_t BlockSender::max_header_size(std::size_t room) const noexcept {
  using proto::varint_size;
  return kFixedFields + kBlockSizedFields + varint_size(stream_id_) + varint_size(max_end_) +
         varint_size(max_key_) + 2 * varint_size(max_version_) + varint_size(room);
}

}  // namespace dwcp::transport
