#include "tools/common/file_source.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace dwcp::tools {
namespace {

namespace fs = std::filesystem;

std::string cannot_read(const std::string& path, const std::string& why) {
  return "cannot read '" + path + "': " + why;
}

std::uint32_t permission_bits(fs::perms perms) {
  return static_cast<std::uint32_t>(perms) & 07777;
}

// The name a directory is sent under: its last component, none for "." or "/".
std::string directory_name(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  std::string name = p.filename().string();
  if (name == "." || name == "..") name.clear();
  return name;
}

std::expected<SourceFile, std::string> regular_file(const fs::path& disk, std::string relative,
                                                    const fs::file_status& status) {
  std::error_code error;
  const std::uintmax_t size = fs::file_size(disk, error);
  if (error) return std::unexpected(cannot_read(disk.string(), error.message()));
  // Refused here, not half-way through the transfer.
  if (::access(disk.c_str(), R_OK) != 0) {
    return std::unexpected(cannot_read(disk.string(), std::strerror(errno)));
  }
  SourceFile file;
  file.disk_path = disk.string();
  file.relative = std::move(relative);
  file.size = size;
  file.mode = permission_bits(status.permissions());
  return file;
}

}  // namespace

std::expected<SourceList, std::string> collect_sources(const std::string& path) {
  SourceList list;
  if (path == "-") {
    SourceFile in;
    in.is_stdin = true;
    list.files.push_back(in);
    return list;
  }
  std::error_code error;
  const fs::file_status top = fs::status(path, error);
  if (error) return std::unexpected(cannot_read(path, error.message()));
  if (fs::is_regular_file(top)) {
    auto file = regular_file(path, fs::path(path).filename().string(), top);
    if (!file) return std::unexpected(file.error());
    list.files.push_back(std::move(*file));
    return list;
  }
  if (!fs::is_directory(top)) {
    return std::unexpected(cannot_read(path,
                                       "neither a regular file nor a directory (- reads "
                                       "stdin)"));
  }
  const std::string prefix = directory_name(path);
  fs::recursive_directory_iterator it(path, fs::directory_options::none, error);
  if (error) return std::unexpected(cannot_read(path, error.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (error) break;
    const fs::directory_entry& entry = *it;
    // Not followed: a symlink could lead out of the tree, or round in a loop.
    const fs::file_status status = entry.symlink_status(error);
    if (error) return std::unexpected(cannot_read(entry.path().string(), error.message()));
    if (fs::is_directory(status)) continue;
    std::string relative = entry.path().lexically_relative(path).generic_string();
    if (!prefix.empty()) relative.insert(0, prefix + '/');
    if (!fs::is_regular_file(status)) {
      list.skipped.push_back(entry.path().string());
      continue;
    }
    auto file = regular_file(entry.path(), std::move(relative), status);
    if (!file) return std::unexpected(file.error());
    list.files.push_back(std::move(*file));
  }
  if (error) return std::unexpected(cannot_read(path, error.message()));
  if (list.files.empty()) return std::unexpected(cannot_read(path, "no regular files in it"));
  std::ranges::sort(list.files, {}, &SourceFile::relative);
  return list;
}

SourceReader::SourceReader(SourceReader&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      owns_fd_(std::exchange(other.owns_fd_, false)),
      is_stdin_(other.is_stdin_),
      remaining_(other.remaining_),
      shown_(std::move(other.shown_)),
      error_(std::move(other.error_)) {}

SourceReader& SourceReader::operator=(SourceReader&& other) noexcept {
  if (this != &other) {
    if (owns_fd_ && fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    owns_fd_ = std::exchange(other.owns_fd_, false);
    is_stdin_ = other.is_stdin_;
    remaining_ = other.remaining_;
    shown_ = std::move(other.shown_);
    error_ = std::move(other.error_);
  }
  return *this;
}

SourceReader::~SourceReader() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

std::expected<SourceReader, std::string> SourceReader::open(const SourceFile& file) {
  SourceReader reader;
  if (file.is_stdin) {
    reader.fd_ = STDIN_FILENO;
    reader.is_stdin_ = true;
    reader.shown_ = "stdin";
    return reader;
  }
  reader.shown_ = file.disk_path;
  reader.fd_ = ::open(file.disk_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (reader.fd_ < 0) return std::unexpected(cannot_read(file.disk_path, std::strerror(errno)));
  reader.owns_fd_ = true;
  reader.remaining_ = file.size;
  // Sequential reads: the kernel may read ahead further.
  ::posix_fadvise(reader.fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  return reader;
}

SourceReader::Result SourceReader::read(std::span<std::byte> out) {
  if (!is_stdin_) {
    if (remaining_ == 0) return {State::end, 0};
    out = out.first(static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), remaining_)));
  } else {
    pollfd ready{STDIN_FILENO, POLLIN, 0};
    const int polled = ::poll(&ready, 1, 0);
    if (polled == 0 || (polled < 0 && errno == EINTR)) return {State::would_block, 0};
    if (polled < 0) {
      error_ = cannot_read(shown_, std::strerror(errno));
      return {State::error, 0};
    }
  }
  for (;;) {
    const ssize_t got = ::read(fd_, out.data(), out.size());
    if (got > 0) {
      if (!is_stdin_) remaining_ -= static_cast<std::uint64_t>(got);
      return {State::data, static_cast<std::size_t>(got)};
    }
    if (got == 0) return {State::end, 0};
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return {State::would_block, 0};
    error_ = cannot_read(shown_, std::strerror(errno));
    return {State::error, 0};
  }
}

}  // namespace dwcp::tools
