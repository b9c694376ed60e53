// One sending stream (dwcp-send's, or dwcp-recv's in a reverse run): writes its units
// (tools/common/stream_header.h) without ever blocking — a header, the content in data
// messages, a trailer with the byte count and XXH3-128 — and matches the receiver's
// verdicts, which come back on the same stream in the same order, to the units sent.
//
// Pattern mode: one unit of the test pattern, `budget` bytes or until stop(). File mode:
// the streams share one FileQueue and each takes the next file whenever it finished one,
// so big and small files spread over the streams without planning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "simd/checksum.h"
#include "tools/common/content_digest.h"
#include "tools/common/file_source.h"
#include "tools/common/stream_header.h"
#include "transport/api/stream.h"

namespace dwcp::tools {

class FileQueue {
 public:
  explicit FileQueue(std::vector<SourceFile> files) : files_(std::move(files)) {}
  // The next file to send, or none (also after close()). Valid while the queue lives.
  const SourceFile* next() noexcept { return next_ < files_.size() ? &files_[next_++] : nullptr; }
  void close() noexcept {
    closed_with_files_left_ = closed_with_files_left_ || next_ < files_.size();
    next_ = files_.size();
  }
  // close() came while files were still waiting.
  [[nodiscard]] bool closed_with_files_left() const noexcept { return closed_with_files_left_; }
  [[nodiscard]] std::size_t size() const noexcept { return files_.size(); }

 private:
  std::vector<SourceFile> files_;
  std::size_t next_ = 0;
  bool closed_with_files_left_ = false;
};

// Why a stream cannot go on.
struct StepFailure {
  SendStatus status = SendStatus::accepted;  // the transport's refusal, when it was one
  std::string local_error;                   // else a source that cannot be read
};

class StreamSender {
 public:
  // The test pattern: `budget` content bytes, or with `timed` until stop().
  StreamSender(Stream stream, std::uint64_t budget, bool timed);
  // Files from `queue` (which must outlive the sender) until it runs dry.
  StreamSender(Stream stream, FileQueue& queue);

  struct Step {
    std::uint64_t bytes = 0;  // content bytes handed to the transport
    bool progressed = false;  // a message went out
  };
  // Hands at most one message to the stream. Nothing to do (back-pressure, a source with
  // nothing to read yet, or done) is a Step without progress.
  std::expected<Step, StepFailure> step(std::size_t message_size);
  // Ends the unit under way now (its trailer goes next, counting what was sent) and takes
  // no new one.
  void stop() noexcept;
  // Reads the verdicts that arrived. A verdict that does not decode, or arrives with no
  // unit waiting for one, counts as a failed unit. A stop frame (the client of a reverse
  // run) stops a pattern stream, as stop() does.
  void collect_verdicts();

  // The stream is finished: every unit's trailer was sent.
  [[nodiscard]] bool sending_done() const noexcept { return phase_ == Phase::done; }
  // Every unit sent has its verdict.
  [[nodiscard]] bool verdicts_done() const noexcept { return awaiting_.empty(); }

  // stop() ended a file (or stdin) before its end.
  [[nodiscard]] bool cut_short() const noexcept { return cut_short_; }
  [[nodiscard]] std::uint64_t messages() const noexcept { return messages_; }
  [[nodiscard]] std::uint64_t units() const noexcept { return units_; }
  [[nodiscard]] std::uint64_t files() const noexcept { return files_; }
  [[nodiscard]] std::uint64_t verified_units() const noexcept { return verified_; }
  [[nodiscard]] std::uint64_t failed_units() const noexcept { return failed_; }
  // One line per unit that failed: "PATH: why".
  [[nodiscard]] const std::vector<std::string>& failures() const noexcept { return failures_; }
  // Adds this stream's files and their hashes.
  void add_digests(ContentDigest& digest) const;

 private:
  enum class Phase : std::uint8_t { next_unit, header, data, trailer, done };

  struct SentUnit {
    std::string shown;  // the path, "stdin" or "pattern"
    std::string digest_path;
    std::uint64_t bytes = 0;
    std::optional<simd::Hash128> hash;
  };

  bool begin_unit(StepFailure& failure);
  std::expected<Step, StepFailure> send_data(std::size_t message_size);
  std::expected<Step, StepFailure> send_frame(std::span<const std::byte> frame);
  void fail_unit(const std::string& shown, const std::string& why);

  Stream stream_;
  FileQueue* queue_ = nullptr;
  bool pattern_ = false;
  bool pattern_sent_ = false;
  bool timed_ = false;
  bool stopped_ = false;
  bool cut_short_ = false;
  std::uint64_t budget_ = 0;
  Phase phase_ = Phase::next_unit;

  // The unit under way.
  StreamHeader header_;
  SentUnit unit_;
  SourceReader reader_;
  simd::Xxh3_128Stream hasher_;
  std::uint64_t remaining_ = 0;  // pattern with a budget
  std::vector<std::byte> frame_;

  std::deque<SentUnit> awaiting_;  // units sent, oldest first, without a verdict yet
  std::vector<SentUnit> sent_files_;
  std::uint64_t messages_ = 0;
  std::uint64_t units_ = 0;
  std::uint64_t files_ = 0;
  std::uint64_t verified_ = 0;
  std::uint64_t failed_ = 0;
  std::vector<std::string> failures_;
};

}  // namespace dwcp::tools
