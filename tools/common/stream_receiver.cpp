#include "tools/common/stream_receiver.h"

#include <unistd.h>

#include <cstdio>
#include <utility>

#include "tools/common/printable.h"

namespace dwcp::tools {

StreamReceiver::StreamReceiver(Stream stream, ReceiveTarget& target, std::uint64_t client)
    : stream_(std::move(stream)), target_(target), client_(client) {}

std::string StreamReceiver::shown() const {
  switch (header_.kind) {
    case ContentKind::pattern:
      return "stream " + std::to_string(stream_.id()) + " (pattern)";
    case ContentKind::stdin_data:
      return "stream " + std::to_string(stream_.id()) + " (stdin)";
    case ContentKind::reverse:
      return "stream " + std::to_string(stream_.id()) + " (reverse)";
    case ContentKind::sync:
    case ContentKind::file:
      break;
  }
  return "'" + printable(header_.path) + "'";
}

void StreamReceiver::report_problem(const std::string& what) const {
  std::fprintf(stderr, "dwcp-recv: [%3llu] %s\n", static_cast<unsigned long long>(client_),
               what.c_str());
}

std::uint64_t StreamReceiver::consume(std::span<const std::byte> message) {
  if (state_ == State::broken || state_ == State::handed_over) return 0;
  const auto type = frame_type(message);
  if (!type) {
    malformed(std::string(to_string(type.error())));
    return 0;
  }
  if (state_ == State::expect_header) {
    if (*type == FrameType::verdict && target_.pattern_only && tally_.units == 0) {
      // The peer turned our request down before sending anything.
      auto verdict = decode_verdict(message);
      if (!verdict) {
        malformed("verdict: " + std::string(to_string(verdict.error())));
        return 0;
      }
      peer_verdict_ = *verdict;
      state_ = State::broken;
      return 0;
    }
    if (*type != FrameType::header) {
      malformed("a stream or unit that does not start with a header");
      return 0;
    }
    auto header = decode_header(message);
    if (!header) {
      malformed("header: " + std::string(to_string(header.error())));
      return 0;
    }
    if (header->kind == ContentKind::reverse) {
      // Only as a stream's first and only unit: the stream then carries the other way.
      if (!target_.take_reverse || tally_.units != 0) {
        malformed("a reverse request where none is taken");
        return 0;
      }
      request_ = std::move(*header);
      state_ = State::handed_over;
      return 0;
    }
    if (header->kind == ContentKind::sync) {
      // As a reverse request: the stream's first and only unit.
      if (!target_.take_sync || tally_.units != 0) {
        malformed("a sync where none is taken");
        return 0;
      }
      sync_request_ = std::move(*header);
      state_ = State::handed_over;
      return 0;
    }
    if (target_.pattern_only && header->kind != ContentKind::pattern) {
      malformed("content other than the test pattern asked for");
      return 0;
    }
    begin_unit(std::move(*header));
    return 0;
  }
  switch (*type) {
    case FrameType::data: {
      const std::span<const std::byte> content = data_content(message);
      unit_bytes_ += content.size();
      ++tally_.messages;
      if (pattern_) {
        pattern_->consume(content);
      } else {
        hasher_.update(content);
        // A failed write is remembered by the sink and answered at the trailer: the rest
        // of the unit is still read, so the stream stays in step.
        if (writes_) sink_.write(content);
      }
      return content.size();
    }
    case FrameType::trailer: {
      const auto trailer = decode_trailer(message);
      if (!trailer) {
        malformed("trailer: " + std::string(to_string(trailer.error())));
      } else {
        end_unit(*trailer);
      }
      return 0;
    }
    case FrameType::header:
    case FrameType::verdict:
    case FrameType::stop:
    case FrameType::manifest:
    case FrameType::round_end:
    case FrameType::keepalive:
      break;
  }
  malformed("a frame out of order inside a unit");
  return 0;
}

void StreamReceiver::consume_block() {
  if (state_ == State::broken || state_ == State::handed_over) return;
  malformed("a versioned block outside a sync");
}

void StreamReceiver::begin_unit(StreamHeader header) {
  header_ = std::move(header);
  state_ = State::in_unit;
  ++tally_.units;
  unit_bytes_ = 0;
  hasher_.reset();
  pattern_.reset();
  refusal_.reset();
  writes_ = false;
  sink_ = FileSink{};
  if (header_.kind == ContentKind::pattern) {
    pattern_.emplace(stream_.id());
    return;
  }
  if (header_.kind == ContentKind::file) {
    if (const auto bad = check_relative_path(header_.path)) {
      refusal_ = Verdict::rejected_path;
      ++tally_.rejected_paths;
      report_problem("rejected path " + shown() + ": " + std::string(to_string(*bad)));
      return;
    }
  }
  if (target_.output_fd >= 0) {
    if (header_.kind == ContentKind::stdin_data) {
      refusal_ = Verdict::refused;
      report_problem(shown() + ": refused: stdin has no name to be stored under (use --stdout)");
      return;
    }
    const std::uint64_t serial = target_.next_tag.fetch_add(1, std::memory_order_relaxed);
    const std::string tag =
        std::to_string(::getpid()) + "-" + std::to_string(client_) + "-" + std::to_string(serial);
    auto sink = FileSink::create(target_.output_fd, header_.path, header_.mode, tag);
    if (!sink) {
      if (sink.error().rejected_path) {
        refusal_ = Verdict::rejected_path;
        ++tally_.rejected_paths;
        report_problem("rejected path " + shown() + ": " + printable(sink.error().message));
      } else {
        refusal_ = Verdict::write_failed;
        report_problem(printable(sink.error().message));
      }
      return;
    }
    sink_ = std::move(*sink);
    writes_ = true;
  } else if (target_.to_stdout) {
    if (target_.stdout_taken.exchange(true, std::memory_order_relaxed)) {
      refusal_ = Verdict::refused;
      report_problem(shown() + ": refused: --stdout takes one file, and has one");
      return;
    }
    sink_ = FileSink::to_stdout();
    writes_ = true;
  }
}

void StreamReceiver::end_unit(const StreamTrailer& trailer) {
  StreamVerdict verdict;
  verdict.bytes = unit_bytes_;
  const bool size_ok =
      trailer.bytes == unit_bytes_ && (!header_.size || *header_.size == unit_bytes_);
  if (pattern_) {
    tally_.verification_errors += pattern_->errors();
    if (trailer.hash) {
      verdict.result = Verdict::malformed;
      ++tally_.malformed_frames;
    } else if (pattern_->errors() != 0) {
      verdict.result = Verdict::pattern_mismatch;
    } else if (!size_ok) {
      verdict.result = Verdict::size_mismatch;
    }
    pattern_.reset();
  } else {
    verdict.hash = hasher_.digest();
    ++tally_.files;
    tally_.digest.add(header_.kind == ContentKind::file ? header_.path : "-", verdict.hash);
    if (!trailer.hash) {
      verdict.result = Verdict::malformed;
      ++tally_.malformed_frames;
    } else if (refusal_) {
      verdict.result = *refusal_;
    } else if (!size_ok) {
      verdict.result = Verdict::size_mismatch;
      ++tally_.verification_errors;
    } else if (verdict.hash != *trailer.hash) {
      verdict.result = Verdict::hash_mismatch;
      ++tally_.verification_errors;
    } else if (writes_) {
      if (auto committed = sink_.commit(); committed) {
        ++tally_.files_written;
      } else {
        verdict.result = Verdict::write_failed;
        report_problem(printable(committed.error()));
      }
    }
    if (verdict.result != Verdict::verified) {
      sink_.discard();
      if (verdict.result != Verdict::rejected_path && verdict.result != Verdict::refused &&
          verdict.result != Verdict::write_failed) {
        report_problem(shown() + ": " + std::string(to_string(verdict.result)));
      }
    }
  }
  if (verdict.result == Verdict::verified) ++tally_.verified_units;
  sink_ = FileSink{};
  writes_ = false;
  state_ = State::expect_header;
  send_verdict(verdict);
}

void StreamReceiver::malformed(const std::string& why) {
  ++tally_.malformed_frames;
  report_problem("stream " + std::to_string(stream_.id()) + ": malformed: " + why +
                 "; the rest of the stream is dropped");
  sink_.discard();
  pattern_.reset();
  writes_ = false;
  state_ = State::broken;
  StreamVerdict verdict;
  verdict.result = Verdict::malformed;
  verdict.bytes = unit_bytes_;
  send_verdict(verdict);
}

void StreamReceiver::refuse_request(Verdict verdict) {
  ++tally_.units;
  state_ = State::broken;
  StreamVerdict refusal;
  refusal.result = verdict;
  send_verdict(refusal);
  // Nothing else comes: the client, waiting for our side to end, may finish its own. A
  // fresh stream's queue always takes the verdict.
  if (unsent_verdicts_.empty()) stream_.finish();
}

void StreamReceiver::send_verdict(const StreamVerdict& verdict) {
  std::vector<std::byte> frame(kVerdictSize);
  if (!encode_verdict(frame, verdict)) return;  // cannot happen: the frame has room
  unsent_verdicts_.push_back(std::move(frame));
  flush_verdicts();
  // A peer that sends tiny units and never reads their verdicts would grow this queue
  // without bound.
  if (unsent_verdicts_.size() > kMaxUnsentVerdicts && state_ != State::broken) {
    ++tally_.malformed_frames;
    report_problem("stream " + std::to_string(stream_.id()) +
                   ": the peer does not read its verdicts; the rest of the stream is dropped");
    state_ = State::broken;
  }
}

void StreamReceiver::flush_verdicts() {
  while (!unsent_verdicts_.empty()) {
    const SendStatus status = stream_.send(unsent_verdicts_.front());
    if (status == SendStatus::back_pressured) return;
    // Accepted, or the connection is gone and nobody is left to tell.
    unsent_verdicts_.pop_front();
  }
}

void StreamReceiver::finish(ReceiveTally& tally) {
  if (state_ == State::in_unit) {
    if (pattern_) tally_.verification_errors += pattern_->errors();
    sink_.discard();
    report_problem(shown() + ": the stream ended inside it; dropped");
    state_ = State::expect_header;
  }
  tally.messages += tally_.messages;
  tally.verification_errors += tally_.verification_errors;
  tally.files += tally_.files;
  tally.files_written += tally_.files_written;
  tally.units += tally_.units;
  tally.verified_units += tally_.verified_units;
  tally.rejected_paths += tally_.rejected_paths;
  tally.malformed_frames += tally_.malformed_frames;
  tally.digest.merge(tally_.digest);
  tally_ = ReceiveTally{};
}

}  // namespace dwcp::tools
