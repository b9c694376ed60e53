#include "transport/io_recording.h"

#include <algorithm>
#include <cstring>

namespace dwcp::transport {

RecordingBackend::RecordingBackend(SocketAddress local, IoCapabilities caps)
    : local_(local), caps_(caps) {}

IoCapabilities RecordingBackend::default_capabilities() noexcept {
  IoCapabilities caps;
  caps.gso_max_segments = kMaxGsoSegments;
  caps.gso_max_bytes = kMaxUdpPayload;
  caps.gro = true;
  caps.zerocopy = false;
  caps.max_batch = kMaxBatch;
  return caps;
}

IoResult<std::size_t> RecordingBackend::send(std::span<const TxDatagram> batch) noexcept {
  if (next_send_error_) {
    const IoError error = *next_send_error_;
    next_send_error_.reset();
    return std::unexpected(error);
  }
  const std::size_t call = send_calls_++;
  std::size_t done = 0;
  for (const TxDatagram& d : batch) {
    if (!fits(d, caps_)) {
      if (done > 0) return done;
      return std::unexpected(
          IoError{IoErrc::invalid_argument, 0, "recording send (entry exceeds capabilities)"});
    }
    const std::size_t count = d.datagram_count();
    if (count > send_budget_) break;
    send_budget_ -= count;
    const std::size_t seg = count > 1 ? d.segment_size : std::max<std::size_t>(d.data.size(), 1);
    for (std::size_t i = 0, start = 0; i < count; ++i, start += seg) {
      const auto piece = d.data.subspan(start, std::min(seg, d.data.size() - start));
      sent_.push_back(RecordedDatagram{d.to, {piece.begin(), piece.end()}, call, done});
      if (peer_ != nullptr) peer_->inject(local_, piece);
    }
    ++done;
  }
  if (done == 0 && !batch.empty()) {
    return std::unexpected(IoError{IoErrc::would_block, 0, "recording send (budget spent)"});
  }
  return done;
}

IoResult<std::size_t> RecordingBackend::receive(std::span<RxDatagram> batch) noexcept {
  if (batch.empty()) return 0;
  if (inbox_.empty()) {
    return std::unexpected(IoError{IoErrc::would_block, 0, "recording receive"});
  }
  std::size_t done = 0;
  for (RxDatagram& slot : batch) {
    if (inbox_.empty()) break;
    const Inbound& in = inbox_.front();
    const std::size_t n = std::min(in.bytes.size(), slot.buffer.size());
    if (n > 0) std::memcpy(slot.buffer.data(), in.bytes.data(), n);
    slot.from = in.from;
    slot.length = n;
    slot.truncated = n < in.bytes.size();
    slot.segment_size = in.segment_size != 0 ? in.segment_size : n;
    inbox_.pop_front();
    ++done;
  }
  return done;
}

void RecordingBackend::inject(const SocketAddress& from, std::span<const std::byte> bytes,
                              std::size_t segment_size) {
  inbox_.push_back(Inbound{from, {bytes.begin(), bytes.end()}, segment_size});
}

}  // namespace dwcp::transport
