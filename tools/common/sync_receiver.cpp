#include "tools/common/sync_receiver.h"

#include <chrono>
#include <cstdio>
#include <utility>

#include "tools/common/printable.h"

namespace dwcp::tools {
namespace {

// A replica still held by the previous sync of it: that sync's stream ended, but its
// session may not have seen it yet.
constexpr auto kLockWait = std::chrono::seconds(2);

std::vector<std::byte> encode(const StreamVerdict& verdict) {
  std::vector<std::byte> frame(kVerdictSize);
  // Cannot fail: the frame has room.
  frame.resize(encode_verdict(frame, verdict).value_or(0));
  return frame;
}

}  // namespace

SyncReceiver::SyncReceiver(Stream stream, const StreamHeader& header, int dir_fd,
                           std::uint64_t client)
    : stream_(std::move(stream)), name_(printable(header.path)), client_(client) {
  ++tally_.files;
  if (dir_fd < 0) {
    refuse(ReplicaError{Verdict::refused, "refused: dwcp-recv runs without --sync-dir"});
    return;
  }
  auto replica = SyncReplica::open(dir_fd, header.path, header.mode, header.block_size, kLockWait);
  if (!replica) {
    refuse(replica.error());
    return;
  }
  replica_ = std::move(*replica);
  auto manifest = replica_.manifest();
  if (!manifest) {
    refuse(ReplicaError{Verdict::write_failed, "cannot read the replica: " + manifest.error()});
    return;
  }
  for (const SyncManifest& message : *manifest) {
    std::vector<std::byte> frame(manifest_size(message.hashes.size()));
    // Cannot fail: sized above, and the replica's manifest keeps within the limits.
    frame.resize(encode_manifest(frame, message).value_or(0));
    queue(std::move(frame));
  }
}

void SyncReceiver::report_problem(const std::string& what) const {
  std::fprintf(stderr, "dwcp-recv: [%3llu] sync '%s': %s\n",
               static_cast<unsigned long long>(client_), name_.c_str(), what.c_str());
}

void SyncReceiver::refuse(const ReplicaError& error) {
  report_problem(error.message);
  if (error.verdict == Verdict::rejected_path) ++tally_.rejected_paths;
  ++tally_.units;
  broken_ = true;
  StreamVerdict verdict;
  verdict.result = error.verdict;
  queue(encode(verdict));
}

void SyncReceiver::malformed(const std::string& why) {
  ++tally_.malformed_frames;
  report_problem("malformed: " + why + "; the rest of the stream is dropped");
  broken_ = true;
  in_round_ = false;
  StreamVerdict verdict;
  verdict.result = Verdict::malformed;
  queue(encode(verdict));
}

void SyncReceiver::begin_round_if_needed() {
  if (in_round_) return;
  in_round_ = true;
  ++tally_.units;
  round_ = SyncRoundRecord{};
  round_.round = next_round_;
}

std::uint64_t SyncReceiver::consume_block(std::uint64_t key, std::span<const std::byte> bytes) {
  if (broken_) return 0;
  begin_round_if_needed();
  auto written = replica_.write_block(key, bytes);
  if (!written) {
    if (written.error().verdict == Verdict::malformed) {
      malformed("block " + std::to_string(key) + " of " + std::to_string(bytes.size()) +
                " bytes: " + written.error().message);
      return 0;
    }
    // The round's verdict says so; the stream stays in step.
    report_problem(written.error().message);
  }
  ++round_.blocks;
  round_.block_bytes += bytes.size();
  ++tally_.messages;
  return bytes.size();
}

void SyncReceiver::consume(std::span<const std::byte> message) {
  if (broken_) return;
  const auto type = frame_type(message);
  if (type == FrameType::keepalive) {
    if (!decode_keepalive(message)) malformed("keepalive: wrong length");
    return;
  }
  if (!type || *type != FrameType::round_end) {
    malformed(type ? "a frame other than a round end" : std::string(to_string(type.error())));
    return;
  }
  const auto end = decode_round_end(message);
  if (!end) {
    malformed("round end: " + std::string(to_string(end.error())));
    return;
  }
  begin_round_if_needed();
  if (end->round != round_.round) {
    malformed("round " + std::to_string(end->round) + " where round " +
              std::to_string(round_.round) + " was due");
    return;
  }
  // Fewer blocks than sent: the transport held one back (its rebuilt bytes failed their
  // CRC32C; it comes again whole, later). The replica's hash decides the verdict.
  if (end->blocks != round_.blocks) {
    report_problem("round " + std::to_string(round_.round) + ": " + std::to_string(round_.blocks) +
                   " blocks arrived of " + std::to_string(end->blocks) + " sent");
  }
  round_.verdict = replica_.finish_round(*end);
  in_round_ = false;
  ++next_round_;
  ++tally_.sync_rounds;
  if (round_.verdict.result == Verdict::verified) {
    ++tally_.verified_units;
    ++tally_.sync_rounds_verified;
    last_verified_ = round_.verdict.hash;
  } else {
    last_verified_.reset();
    ++tally_.verification_errors;
    report_problem("round " + std::to_string(round_.round) + ": " +
                   std::string(to_string(round_.verdict.result)));
  }
  ended_.push_back(round_);
  queue(encode(round_.verdict));
}

void SyncReceiver::queue(std::vector<std::byte> message) {
  unsent_.push_back(std::move(message));
  flush();
  if (unsent_.size() > kMaxUnsentVerdicts && !broken_) {
    ++tally_.malformed_frames;
    report_problem("the peer does not read its verdicts; the rest of the stream is dropped");
    broken_ = true;
    in_round_ = false;
  }
}

void SyncReceiver::flush() {
  while (!unsent_.empty()) {
    const SendStatus status = stream_.send(unsent_.front());
    if (status == SendStatus::back_pressured) return;
    // Accepted, or the connection is gone and nobody is left to tell.
    unsent_.pop_front();
  }
}

std::vector<SyncRoundRecord> SyncReceiver::take_rounds() {
  return std::exchange(ended_, {});
}

void SyncReceiver::finish(ReceiveTally& tally) {
  if (in_round_) {
    report_problem("the stream ended inside round " + std::to_string(round_.round) +
                   "; the replica is not verified");
    in_round_ = false;
  }
  tally.messages += tally_.messages;
  tally.verification_errors += tally_.verification_errors;
  tally.files += tally_.files;
  tally.units += tally_.units;
  tally.verified_units += tally_.verified_units;
  tally.rejected_paths += tally_.rejected_paths;
  tally.malformed_frames += tally_.malformed_frames;
  tally.sync_rounds += tally_.sync_rounds;
  tally.sync_rounds_verified += tally_.sync_rounds_verified;
  // A replica the last round verified counts as written, with its hash in the digest.
  if (last_verified_) {
    ++tally.files_written;
    tally.digest.add(name_, *last_verified_);
  }
  tally_ = ReceiveTally{};
}

}  // namespace dwcp::tools
