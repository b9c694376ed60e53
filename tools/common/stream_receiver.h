// One incoming stream of a dwcp-recv client: decodes its units (tools/common/stream_header.h),
// checks each — the test pattern byte by byte, a file's or stdin's size and XXH3-128 —
// stores files under --output (renamed into place only once verified) or on stdout, and
// answers every unit with a verdict on the same stream.
//
// Everything on the stream is untrusted: a frame that does not decode or comes out of order
// is counted as malformed, answered with a `malformed` verdict, and the rest of the stream
// is read and dropped. A path check_relative_path() refuses, or one that leads through a
// symlink, is counted as rejected and nothing is written for it.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "simd/checksum.h"
#include "tools/common/content_digest.h"
#include "tools/common/file_sink.h"
#include "tools/common/stream_header.h"
#include "tools/common/test_pattern.h"
#include "transport/api/stream.h"

namespace dwcp::tools {

// Where received content goes, shared by every client of one dwcp-recv.
struct ReceiveTarget {
  int output_fd = -1;  // --output's directory; -1: files are hashed and dropped
  bool to_stdout = false;
  std::atomic<bool> stdout_taken{false};   // --stdout carries one unit, whoever's comes first
  std::atomic<std::uint64_t> next_tag{0};  // makes temporary names unique
  // dwcp-recv: a stream may open with a reverse request (the peer wants the pattern sent to
  // it); the receiver hands it over (reverse_request()) and reads the stream no further.
  bool take_reverse = false;
  // dwcp-send -R: the peer owes the test pattern and nothing else; a verdict before any
  // header is the peer refusing the request (peer_verdict()).
  bool pattern_only = false;
  // dwcp-recv: a stream may open with a sync header (dwcp-send --sync); the receiver hands
  // it over (sync_request()) and reads the stream no further.
  bool take_sync = false;
  int sync_fd = -1;  // --sync-dir's directory; -1: syncs are refused
};

// What a client's streams amount to, summed at the end.
struct ReceiveTally {
  std::uint64_t messages = 0;             // data messages
  std::uint64_t verification_errors = 0;  // pattern messages, files that did not verify
  std::uint64_t files = 0;                // file and stdin units whose trailer arrived
  std::uint64_t files_written = 0;
  std::uint64_t units = 0;  // units begun
  std::uint64_t verified_units = 0;
  std::uint64_t rejected_paths = 0;
  std::uint64_t malformed_frames = 0;
  std::uint64_t sync_rounds = 0;  // sync rounds ended (each is also a unit)
  std::uint64_t sync_rounds_verified = 0;
  ContentDigest digest;
};

class StreamReceiver {
 public:
  // `client` numbers the client in problem lines and temporary names.
  StreamReceiver(Stream stream, ReceiveTarget& target, std::uint64_t client);

  // Takes the next message of the stream: the content bytes it carried (0 for frames).
  std::uint64_t consume(std::span<const std::byte> message);
  // A versioned block where none belongs (a stream that is not a sync): malformed.
  void consume_block();
  // Sends the verdicts that met back-pressure before.
  void flush_verdicts();
  // The stream's end: a unit without its trailer is dropped (its temporary file removed)
  // and counts as not verified. Adds this stream's figures to `tally`.
  void finish(ReceiveTally& tally);

  // The reverse request the stream opened with (ReceiveTarget::take_reverse); from then on
  // the stream's messages are the caller's to read.
  [[nodiscard]] const std::optional<StreamHeader>& reverse_request() const noexcept {
    return request_;
  }
  // The sync header the stream opened with (ReceiveTarget::take_sync); from then on the
  // stream's messages and blocks are the caller's to read (tools/common/sync_receiver.h).
  [[nodiscard]] const std::optional<StreamHeader>& sync_request() const noexcept {
    return sync_request_;
  }
  // Answers the reverse request with `verdict` (refused: the connection already sends with
  // another controller) instead of the pattern; the unit counts as not verified.
  void refuse_request(Verdict verdict);
  // ReceiveTarget::pattern_only: the peer's verdict that refused our request, if it sent one.
  [[nodiscard]] const std::optional<StreamVerdict>& peer_verdict() const noexcept {
    return peer_verdict_;
  }
  // No unit under way and every verdict handed to the stream: the stream may be finished.
  [[nodiscard]] bool settled() const noexcept {
    return state_ != State::in_unit && unsent_verdicts_.empty();
  }

 private:
  // handed_over: a reverse request or a sync header, whose stream the caller reads.
  enum class State : std::uint8_t { expect_header, in_unit, broken, handed_over };

  void begin_unit(StreamHeader header);
  void end_unit(const StreamTrailer& trailer);
  void malformed(const std::string& why);
  void send_verdict(const StreamVerdict& verdict);
  void report_problem(const std::string& what) const;
  [[nodiscard]] std::string shown() const;

  Stream stream_;
  ReceiveTarget& target_;
  std::uint64_t client_;
  State state_ = State::expect_header;
  ReceiveTally tally_;

  // The unit under way.
  StreamHeader header_;
  simd::Xxh3_128Stream hasher_;
  std::optional<StreamVerifier> pattern_;
  FileSink sink_;
  std::uint64_t unit_bytes_ = 0;
  std::optional<Verdict> refusal_;  // decided at the header: rejected_path, write_failed, refused
  bool writes_ = false;             // the unit has a sink that keeps its content

  std::deque<std::vector<std::byte>> unsent_verdicts_;
  std::optional<StreamHeader> request_;
  std::optional<StreamHeader> sync_request_;
  std::optional<StreamVerdict> peer_verdict_;
};

}  // namespace dwcp::tools
