#include "transport/io_fault.h"

#include <algorithm>
#include <array>

namespace dwcp::transport {

FaultBackend::FaultBackend(IoBackend& inner, const FaultConfig& config, Instant now)
    : inner_(inner),
      config_(config),
      name_("fault(" + std::string(inner.name()) + ")"),
      rng_(config.seed),
      now_(now) {}

double FaultBackend::uniform() noexcept {
  // The top 53 bits as a fraction: std::uniform_real_distribution's output differs
  // between standard libraries, and a seed should replay the same run everywhere.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

void FaultBackend::submit(const SocketAddress& to, std::span<const std::byte> bytes) {
  ++counters_.seen;
  // Five draws for every datagram whatever happens to it, so changing one probability
  // does not shift the dice every later datagram sees.
  const double u_drop = uniform();
  const double u_duplicate = uniform();
  const double u_corrupt = uniform();
  const double u_delay = uniform();
  const double u_reorder = uniform();
  if (u_drop < config_.drop) {
    ++counters_.dropped;
    return;
  }
  if (config_.black_hole_above > 0 && bytes.size() > config_.black_hole_above) {
    ++counters_.too_large;
    return;
  }
  Held h{to, {bytes.begin(), bytes.end()}, next_seq_++, now_, 0, false, false};
  if (u_corrupt < config_.corrupt && !h.bytes.empty()) {
    const std::size_t at = static_cast<std::size_t>(rng_() % h.bytes.size());
    const auto flip = static_cast<unsigned char>(1 + rng_() % 255);  // never 0: bytes change
    h.bytes[at] ^= std::byte{flip};
    ++counters_.corrupted;
  }
  if (u_delay < config_.delay) {
    h.due = now_ + config_.delay_time;
    ++counters_.delayed;
  } else if (u_reorder < config_.reorder) {
    h.reorder = true;
    h.after_seq = h.seq + config_.reorder_distance;
    ++counters_.reordered;
  }
  const bool duplicate = u_duplicate < config_.duplicate;
  Held copy;
  if (duplicate) {
    // The network duplicates what it carries, corruption included; the copy is not held.
    copy = Held{to, h.bytes, 0, now_, 0, false, false};
  }
  held_.push_back(std::move(h));
  if (duplicate) {
    copy.seq = next_seq_++;
    held_.push_back(std::move(copy));
    ++counters_.duplicated;
  }
}

bool FaultBackend::is_due(const Held& h) const noexcept {
  if (h.gone || h.due > now_) return false;
  return !h.reorder || (forwarded_any_ && max_forwarded_seq_ >= h.after_seq);
}

IoResult<std::size_t> FaultBackend::send(std::span<const TxDatagram> batch) noexcept {
  if (!config_.any() && held_.empty()) {
    auto r = inner_.send(batch);
    if (r) {
      for (std::size_t i = 0; i < *r; ++i) {
        counters_.seen += batch[i].datagram_count();
        counters_.forwarded += batch[i].datagram_count();
      }
    }
    return r;
  }
  const IoCapabilities caps = inner_.capabilities();
  std::size_t taken = 0;
  for (const TxDatagram& d : batch) {
    if (!fits(d, caps)) {
      if (taken > 0) break;
      return std::unexpected(
          IoError{IoErrc::invalid_argument, 0, "fault send (entry exceeds capabilities)"});
    }
    const std::size_t count = d.datagram_count();
    if (held_.size() + 2 * count > config_.max_held) break;  // 2: every copy might duplicate
    const std::size_t seg = count > 1 ? d.segment_size : std::max<std::size_t>(d.data.size(), 1);
    for (std::size_t i = 0, start = 0; i < count; ++i, start += seg) {
      submit(d.to, d.data.subspan(start, std::min(seg, d.data.size() - start)));
    }
    ++taken;
  }
  const auto flushed = flush();
  if (!flushed && is_fatal(flushed.error().code) && taken == 0) {
    return std::unexpected(flushed.error());
  }
  if (taken == 0 && !batch.empty()) {
    return std::unexpected(IoError{IoErrc::would_block, 0, "fault send (held queue full)"});
  }
  return taken;
}

IoResult<std::size_t> FaultBackend::flush() noexcept {
  std::size_t total = 0;
  // Each pass sends at least one datagram or stops, so this bounds the loop.
  const std::size_t max_passes = held_.size() + 1;
  std::array<TxDatagram, kMaxBatch> tx{};
  std::array<std::size_t, kMaxBatch> index{};
  for (std::size_t pass = 0; pass < max_passes; ++pass) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < held_.size() && n < kMaxBatch; ++i) {
      if (!is_due(held_[i])) continue;
      tx[n] = TxDatagram{held_[i].to, held_[i].bytes, 0};
      index[n++] = i;
    }
    if (n == 0) break;
    const auto r = inner_.send(std::span<const TxDatagram>(tx.data(), n));
    if (!r) {
      const IoErrc code = r.error().code;
      if (code == IoErrc::would_block || code == IoErrc::no_buffers ||
          code == IoErrc::interrupted) {
        break;  // still held; a later call tries again
      }
      if (is_fatal(code)) {
        if (total > 0) break;
        return std::unexpected(r.error());
      }
      // Lost for good (too big, unreachable): the network would not have carried it.
      held_[index[0]].gone = true;
      ++counters_.inner_errors;
    } else {
      for (std::size_t k = 0; k < *r; ++k) {
        Held& h = held_[index[k]];
        h.gone = true;
        max_forwarded_seq_ = forwarded_any_ ? std::max(max_forwarded_seq_, h.seq) : h.seq;
        forwarded_any_ = true;
      }
      counters_.forwarded += *r;
      total += *r;
    }
    std::erase_if(held_, [](const Held& h) { return h.gone; });
  }
  return total;
}

IoResult<std::size_t> FaultBackend::advance(Instant now) noexcept {
  now_ = std::max(now_, now);
  return flush();
}

IoResult<std::size_t> FaultBackend::release_all() noexcept {
  for (Held& h : held_) {
    h.due = now_;
    h.reorder = false;
  }
  return flush();
}

}  // namespace dwcp::transport
