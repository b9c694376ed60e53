#include "tools/common/file_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

namespace dwcp::tools {
namespace {

std::string errno_text(int error) {
  return std::strerror(error);
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> names;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      names.push_back(path.substr(start));
      return names;
    }
    names.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

// The directory `name` inside `parent`, created when missing, never through a symlink.
std::expected<int, SinkError> open_subdirectory(int parent, const std::string& name,
                                                std::string_view shown) {
  constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::openat(parent, name.c_str(), kFlags);
  if (fd < 0 && errno == ENOENT) {
    // Another client may create it at the same moment: EEXIST is fine.
    if (::mkdirat(parent, name.c_str(), 0777) != 0 && errno != EEXIST) {
      return std::unexpected(SinkError{
          false, "cannot create directory '" + std::string(shown) + "': " + errno_text(errno)});
    }
    fd = ::openat(parent, name.c_str(), kFlags);
  }
  if (fd >= 0) return fd;
  const int error = errno;
  struct stat st {};
  if ((error == ELOOP || error == ENOTDIR) &&
      ::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode)) {
      return std::unexpected(SinkError{true, "'" + std::string(shown) + "' is a symlink"});
    }
    return std::unexpected(SinkError{false, "'" + std::string(shown) + "' is not a directory"});
  }
  return std::unexpected(
      SinkError{false, "cannot open directory '" + std::string(shown) + "': " + errno_text(error)});
}

}  // namespace

std::expected<int, std::string> open_output_directory(const std::string& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) return std::unexpected("cannot create '" + path + "': " + error.message());
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return std::unexpected("cannot open directory '" + path + "': " + errno_text(errno));
  return fd;
}

FileSink::FileSink(FileSink&& other) noexcept
    : parent_fd_(std::exchange(other.parent_fd_, -1)),
      fd_(std::exchange(other.fd_, -1)),
      owns_fd_(std::exchange(other.owns_fd_, false)),
      temp_name_(std::move(other.temp_name_)),
      final_name_(std::move(other.final_name_)),
      relative_(std::move(other.relative_)),
      error_(std::move(other.error_)) {}

FileSink& FileSink::operator=(FileSink&& other) noexcept {
  if (this != &other) {
    discard();
    parent_fd_ = std::exchange(other.parent_fd_, -1);
    fd_ = std::exchange(other.fd_, -1);
    owns_fd_ = std::exchange(other.owns_fd_, false);
    temp_name_ = std::move(other.temp_name_);
    final_name_ = std::move(other.final_name_);
    relative_ = std::move(other.relative_);
    error_ = std::move(other.error_);
  }
  return *this;
}

FileSink::~FileSink() {
  discard();
}

std::expected<FileSink, SinkError> FileSink::create(int dir_fd, std::string_view relative,
                                                    std::uint32_t mode, std::string_view tag) {
  const std::vector<std::string_view> names = split_path(relative);
  FileSink sink;
  sink.relative_ = relative;
  sink.parent_fd_ = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (sink.parent_fd_ < 0) {
    return std::unexpected(
        SinkError{false, "cannot duplicate the output directory: " + errno_text(errno)});
  }
  std::size_t shown_length = 0;
  for (std::size_t i = 0; i + 1 < names.size(); ++i) {
    shown_length += names[i].size() + (i == 0 ? 0 : 1);
    auto next =
        open_subdirectory(sink.parent_fd_, std::string(names[i]), relative.substr(0, shown_length));
    if (!next) return std::unexpected(next.error());
    ::close(sink.parent_fd_);
    sink.parent_fd_ = *next;
  }
  sink.final_name_ = names.back();
  struct stat st {};
  if (::fstatat(sink.parent_fd_, sink.final_name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISDIR(st.st_mode)) {
    // Found now rather than at the rename, after the whole content was received.
    return std::unexpected(SinkError{false, "'" + std::string(relative) + "' is a directory"});
  }
  sink.temp_name_ = ".dwcp-";
  sink.temp_name_ += tag;
  sink.temp_name_ += ".part";
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  const auto permissions = static_cast<mode_t>(mode & 0777);
  sink.fd_ = ::openat(sink.parent_fd_, sink.temp_name_.c_str(), kFlags, permissions);
  if (sink.fd_ < 0 && errno == EEXIST) {
    // Left behind by an earlier dwcp-recv that had our process id and died mid-file.
    ::unlinkat(sink.parent_fd_, sink.temp_name_.c_str(), 0);
    sink.fd_ = ::openat(sink.parent_fd_, sink.temp_name_.c_str(), kFlags, permissions);
  }
  if (sink.fd_ < 0) {
    const int error = errno;
    sink.temp_name_.clear();
    return std::unexpected(
        SinkError{false, "cannot create '" + std::string(relative) + "': " + errno_text(error)});
  }
  sink.owns_fd_ = true;
  return sink;
}

FileSink FileSink::to_stdout() noexcept {
  FileSink sink;
  sink.fd_ = STDOUT_FILENO;
  return sink;
}

bool FileSink::write(std::span<const std::byte> bytes) {
  if (!error_.empty()) return false;
  if (fd_ < 0) return true;
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd_, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      error_ = relative_.empty() ? "stdout" : "'" + relative_ + "'";
      error_ += ": write: ";
      error_ += errno_text(errno);
      return false;
    }
    bytes = bytes.subspan(static_cast<std::size_t>(written));
  }
  return true;
}

std::expected<void, std::string> FileSink::commit() {
  if (!error_.empty()) return std::unexpected(error_);
  if (!owns_fd_) return {};
  const int fd = std::exchange(fd_, -1);
  owns_fd_ = false;
  if (::close(fd) != 0) {
    error_ = "'" + relative_ + "': close: " + errno_text(errno);
    discard();
    return std::unexpected(error_);
  }
  if (::renameat(parent_fd_, temp_name_.c_str(), parent_fd_, final_name_.c_str()) != 0) {
    error_ = "'" + relative_ + "': rename into place: " + errno_text(errno);
    discard();
    return std::unexpected(error_);
  }
  temp_name_.clear();
  close_all();
  return {};
}

void FileSink::discard() noexcept {
  if (parent_fd_ >= 0 && !temp_name_.empty()) {
    ::unlinkat(parent_fd_, temp_name_.c_str(), 0);
    temp_name_.clear();
  }
  close_all();
}

void FileSink::close_all() noexcept {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
  fd_ = -1;
  owns_fd_ = false;
  if (parent_fd_ >= 0) ::close(parent_fd_);
  parent_fd_ = -1;
}

}  // namespace dwcp::tools
