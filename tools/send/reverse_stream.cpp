#include "tools/send/reverse_stream.h"

#include <array>
#include <utility>

namespace dwcp::tools {

ReverseStream::ReverseStream(Stream stream, const StreamHeader& request, ReceiveTarget& target,
                             std::uint64_t client)
    : stream_(stream),
      receiver_(std::move(stream), target, client),
      request_(encoded_size(request)) {
  // The caller built the request from parsed options: it always encodes.
  if (!encode_header(request_, request)) request_.clear();
}

bool ReverseStream::send_control(std::span<const std::byte> frame) {
  const SendStatus status = stream_.send(frame);
  if (status == SendStatus::accepted) return true;
  if (status != SendStatus::back_pressured) failure_ = status;
  return false;
}

std::uint64_t ReverseStream::step() {
  if (failure_) return 0;
  if (!request_sent_) {
    if (request_.empty()) {
      failure_ = SendStatus::empty;
      return 0;
    }
    request_sent_ = send_control(request_);
    if (!request_sent_) return 0;
  }
  std::uint64_t read = 0;
  for (auto message = stream_.peek(); !message.empty(); message = stream_.peek()) {
    read += receiver_.consume(message);
    stream_.release();
  }
  receiver_.flush_verdicts();
  if (finished_) return read;
  const bool ended = stream_.at_end();
  if (stop_wanted_ && !stop_sent_ && !ended) {
    std::array<std::byte, kStopSize> stop{};
    if (encode_stop(stop)) stop_sent_ = send_control(stop);
  }
  // Our verdict must be out before our side ends. A refusal ends the stream for us at
  // once: a server that does not know reverse requests answers with a verdict but never
  // ends its side.
  if ((ended || receiver_.peer_verdict()) && receiver_.settled()) {
    stream_.finish();
    finished_ = true;
  }
  return read;
}

}  // namespace dwcp::tools
