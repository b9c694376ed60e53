#include "tools/send/sync_round.h"

#include <utility>

namespace dwcp::tools {

SyncRound::SyncRound(int fd, std::uint32_t block_size, const ReplicaImage& known)
    : known_(known), scanner_(fd, block_size) {
  image_.hashes.reserve(known.hashes.size());
}

std::expected<SyncRound::Step, StepFailure> SyncRound::step(const BlockSink& sink,
                                                            std::size_t budget) {
  Step step;
  for (std::size_t examined = 0; !done_ && examined < budget; ++examined) {
    if (!pending_) {
      auto block = scanner_.next();
      if (!block) return std::unexpected(StepFailure{SendStatus::accepted, block.error()});
      step.progressed = true;
      const std::optional<ScannedBlock> next = *block;
      if (!next) {
        done_ = true;
        break;
      }
      const std::uint64_t hash = simd::xxh3_64(next->bytes);
      image_.hashes.push_back(hash);
      if (known_.holds(next->index, hash)) continue;
      pending_ = next;
    }
    const SendStatus status = sink(pending_->index, pending_->bytes);
    if (status == SendStatus::back_pressured) break;
    if (status != SendStatus::accepted) return std::unexpected(StepFailure{status, {}});
    ++changed_;
    changed_bytes_ += pending_->bytes.size();
    ++step.blocks;
    step.progressed = true;
    pending_.reset();
  }
  return step;
}

ReplicaImage SyncRound::take_image() {
  image_.length = scanner_.length();
  return std::move(image_);
}

}  // namespace dwcp::tools
