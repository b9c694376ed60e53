#include "tools/common/sync_replica.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include "tools/common/block_scan.h"

namespace dwcp::tools {
namespace {

std::string errno_text(int error) {
  return std::strerror(error);
}

}  // namespace

SyncReplica::SyncReplica(SyncReplica&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      block_size_(other.block_size_),
      write_failed_(other.write_failed_) {}

SyncReplica& SyncReplica::operator=(SyncReplica&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    block_size_ = other.block_size_;
    write_failed_ = other.write_failed_;
  }
  return *this;
}

SyncReplica::~SyncReplica() {
  if (fd_ >= 0) ::close(fd_);  // the flock goes with it
}

void SyncReplica::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::expected<SyncReplica, ReplicaError> SyncReplica::open(int dir_fd, std::string_view name,
                                                           std::uint32_t mode,
                                                           std::uint32_t block_size,
                                                           std::chrono::milliseconds lock_wait) {
  const std::string shown(name);
  if (check_relative_path(name) || name.find('/') != std::string_view::npos) {
    return std::unexpected(
        ReplicaError{Verdict::rejected_path, "'" + shown + "' is not a plain file name"});
  }
  if (block_size == 0 || block_size > kMaxSyncBlock) {
    return std::unexpected(ReplicaError{Verdict::malformed, "block size out of range"});
  }
  // O_NONBLOCK: a FIFO planted under the name cannot hang the open (it is refused below).
  const int fd =
      ::openat(dir_fd, shown.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
               static_cast<mode_t>(mode & 0777));
  if (fd < 0) {
    const int error = errno;
    // O_NOFOLLOW refuses a symlink (ELOOP): hostile or not, nothing is written through it.
    const Verdict verdict = error == ELOOP ? Verdict::rejected_path : Verdict::write_failed;
    return std::unexpected(
        ReplicaError{verdict, "cannot open '" + shown + "': " + errno_text(error)});
  }
  SyncReplica replica;
  replica.fd_ = fd;
  replica.block_size_ = block_size;
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    return std::unexpected(
        ReplicaError{Verdict::rejected_path, "'" + shown + "' is not a regular file"});
  }
  const auto give_up = std::chrono::steady_clock::now() + lock_wait;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return std::unexpected(
        ReplicaError{Verdict::refused, "'" + shown + "' is being synced by another client"});
  }
  return replica;
}

std::expected<std::vector<SyncManifest>, std::string> SyncReplica::manifest() const {
  auto hashed = hash_blocks(fd_, block_size_);
  if (!hashed) return std::unexpected(hashed.error());
  std::vector<SyncManifest> messages;
  std::size_t at = 0;
  do {
    const std::size_t count = std::min<std::size_t>(kMaxManifestHashes, hashed->hashes.size() - at);
    SyncManifest message;
    message.length = hashed->length;
    message.first_block = at;
    message.hashes.assign(hashed->hashes.begin() + static_cast<std::ptrdiff_t>(at),
                          hashed->hashes.begin() + static_cast<std::ptrdiff_t>(at + count));
    at += count;
    message.last = at == hashed->hashes.size();
    messages.push_back(std::move(message));
  } while (at < hashed->hashes.size());
  return messages;
}

std::expected<void, ReplicaError> SyncReplica::write_block(std::uint64_t key,
                                                           std::span<const std::byte> bytes) {
  if (bytes.empty() || bytes.size() > block_size_ || key > kMaxSyncLength / block_size_ ||
      key * block_size_ + bytes.size() > kMaxSyncLength) {
    return std::unexpected(ReplicaError{Verdict::malformed, "a block no sync sends"});
  }
  std::size_t written = 0;
  const std::uint64_t offset = key * block_size_;
  while (written < bytes.size()) {
    const ssize_t wrote = ::pwrite(fd_, bytes.data() + written, bytes.size() - written,
                                   static_cast<off_t>(offset + written));
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) {
      write_failed_ = true;
      return std::unexpected(
          ReplicaError{Verdict::write_failed, "write failed: " + errno_text(errno)});
    }
    written += static_cast<std::size_t>(wrote);
  }
  return {};
}

StreamVerdict SyncReplica::finish_round(const SyncRoundEnd& end) {
  StreamVerdict verdict;
  const bool cut = ::ftruncate(fd_, static_cast<off_t>(end.length)) == 0;
  auto digest = digest_file(fd_);
  if (digest) {
    verdict.bytes = digest->length;
    verdict.hash = digest->hash;
  }
  if (write_failed_ || !cut || !digest) {
    verdict.result = Verdict::write_failed;
  } else if (digest->length != end.length) {
    verdict.result = Verdict::size_mismatch;
  } else if (digest->hash != end.hash) {
    verdict.result = Verdict::hash_mismatch;
  }
  write_failed_ = false;
  return verdict;
}

}  // namespace dwcp::tools
