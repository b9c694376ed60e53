#include "tools/common/stream_sender.h"

#include <algorithm>
#include <utility>

#include "tools/common/test_pattern.h"

namespace dwcp::tools {

StreamSender::StreamSender(Stream stream, std::uint64_t budget, bool timed)
    : stream_(std::move(stream)), pattern_(true), timed_(timed), budget_(budget) {}

StreamSender::StreamSender(Stream stream, FileQueue& queue)
    : stream_(std::move(stream)), queue_(&queue) {}

void StreamSender::stop() noexcept {
  stopped_ = true;
  if (queue_ != nullptr) queue_->close();
}

bool StreamSender::begin_unit(StepFailure& failure) {
  header_ = StreamHeader{};
  unit_ = SentUnit{};
  hasher_.reset();
  if (pattern_) {
    if (pattern_sent_ || stopped_) return false;
    pattern_sent_ = true;
    if (!timed_) header_.size = budget_;
    remaining_ = budget_;
    unit_.shown = "pattern";
    return true;
  }
  const SourceFile* file = stopped_ ? nullptr : queue_->next();
  if (file == nullptr) return false;
  auto reader = SourceReader::open(*file);
  if (!reader) {
    failure.local_error = reader.error();
    return false;
  }
  reader_ = std::move(*reader);
  if (file->is_stdin) {
    header_.kind = ContentKind::stdin_data;
    unit_.shown = "stdin";
    unit_.digest_path = "-";
  } else {
    header_.kind = ContentKind::file;
    header_.size = file->size;
    header_.mode = file->mode;
    header_.path = file->relative;
    unit_.shown = file->relative;
    unit_.digest_path = file->relative;
  }
  return true;
}

std::expected<StreamSender::Step, StepFailure> StreamSender::send_frame(
    std::span<const std::byte> frame) {
  const SendStatus status = stream_.send(frame);
  if (status == SendStatus::back_pressured) return Step{};
  if (status != SendStatus::accepted) return std::unexpected(StepFailure{status, {}});
  return Step{0, true};
}

std::expected<StreamSender::Step, StepFailure> StreamSender::step(std::size_t message_size) {
  switch (phase_) {
    case Phase::done:
      return Step{};
    case Phase::next_unit: {
      StepFailure failure;
      if (!begin_unit(failure)) {
        if (!failure.local_error.empty()) return std::unexpected(failure);
        stream_.finish();
        phase_ = Phase::done;
        return Step{};
      }
      frame_.resize(encoded_size(header_));
      if (!encode_header(frame_, header_)) {
        return std::unexpected(StepFailure{{},
                                           "'" + unit_.shown +
                                               "': cannot be described in a "
                                               "stream header"});
      }
      phase_ = Phase::header;
      [[fallthrough]];
    }
    case Phase::header: {
      auto sent = send_frame(frame_);
      if (sent && sent->progressed) phase_ = Phase::data;
      return sent;
    }
    case Phase::data:
      return send_data(message_size);
    case Phase::trailer: {
      StreamTrailer trailer;
      trailer.bytes = unit_.bytes;
      if (!pattern_) trailer.hash = hasher_.digest();
      frame_.resize(kTrailerSize);
      if (!encode_trailer(frame_, trailer))
        return std::unexpected(StepFailure{SendStatus::empty, {}});
      auto sent = send_frame(frame_);
      if (sent && sent->progressed) {
        unit_.hash = trailer.hash;
        ++units_;
        if (!pattern_) {
          ++files_;
          sent_files_.push_back(unit_);
        }
        awaiting_.push_back(std::move(unit_));
        reader_ = SourceReader{};
        phase_ = Phase::next_unit;
      }
      return sent;
    }
  }
  return Step{};
}

std::expected<StreamSender::Step, StepFailure> StreamSender::send_data(std::size_t message_size) {
  std::size_t size = message_size;
  if (stopped_) {
    // The pattern's end is whenever the run stops; a file's is not.
    cut_short_ = !pattern_;
    phase_ = Phase::trailer;
    return Step{};
  }
  if (pattern_ && !timed_) {
    if (remaining_ == 0) {
      phase_ = Phase::trailer;
      return Step{};
    }
    size = static_cast<std::size_t>(std::min<std::uint64_t>(size, remaining_));
  }
  SendStatus why = SendStatus::accepted;
  const std::span<std::byte> room = stream_.claim(size + kDataOverhead, &why);
  if (room.empty()) {
    if (why == SendStatus::back_pressured) return Step{};
    return std::unexpected(StepFailure{why, {}});
  }
  room[0] = static_cast<std::byte>(FrameType::data);
  const std::span<std::byte> content = room.subspan(kDataOverhead);
  if (pattern_) {
    fill_pattern(stream_.id(), unit_.bytes, content);
    remaining_ -= timed_ ? 0 : size;
  } else {
    // Read straight into the claimed message: no copy, and memory stays bounded by the
    // stream's queue whatever the file's size. An unused claim is abandoned by the next.
    const SourceReader::Result read = reader_.read(content);
    switch (read.state) {
      case SourceReader::State::would_block:
        return Step{};
      case SourceReader::State::end:
        phase_ = Phase::trailer;
        return Step{};
      case SourceReader::State::error:
        return std::unexpected(StepFailure{{}, reader_.error()});
      case SourceReader::State::data:
        break;
    }
    size = read.bytes;
    hasher_.update(content.first(size));
  }
  const SendStatus committed = stream_.commit(size + kDataOverhead);
  if (committed != SendStatus::accepted) return std::unexpected(StepFailure{committed, {}});
  unit_.bytes += size;
  ++messages_;
  return Step{size, true};
}

void StreamSender::fail_unit(const std::string& shown, const std::string& why) {
  ++failed_;
  failures_.push_back(shown + ": " + why);
}

void StreamSender::collect_verdicts() {
  for (auto message = stream_.peek(); !message.empty(); message = stream_.peek()) {
    if (const auto type = frame_type(message); type && *type == FrameType::stop) {
      // The client of a reverse run says when: the pattern ends there, a file never does.
      const bool honoured = pattern_ && decode_stop(message).has_value();
      stream_.release();
      if (honoured) {
        stop();
      } else {
        fail_unit("stream " + std::to_string(stream_.id()), "a stop frame where none belongs");
      }
      continue;
    }
    const auto verdict = decode_verdict(message);
    stream_.release();
    if (awaiting_.empty()) {
      fail_unit("stream " + std::to_string(stream_.id()), "a verdict for no unit");
      continue;
    }
    SentUnit unit = std::move(awaiting_.front());
    awaiting_.pop_front();
    if (!verdict) {
      fail_unit(unit.shown,
                "undecodable verdict (" + std::string(to_string(verdict.error())) + ")");
    } else if (verdict->result != Verdict::verified) {
      fail_unit(unit.shown, "the receiver says: " + std::string(to_string(verdict->result)));
    } else if (verdict->bytes != unit.bytes || (unit.hash && verdict->hash != *unit.hash)) {
      // The receiver's own figures must agree with ours, not just its word.
      fail_unit(unit.shown, "verified by the receiver with other figures");
    } else {
      ++verified_;
    }
  }
}

void StreamSender::add_digests(ContentDigest& digest) const {
  for (const SentUnit& unit : sent_files_) {
    if (unit.hash) digest.add(unit.digest_path, *unit.hash);
  }
}

}  // namespace dwcp::tools
