// What dwcp-send -F sends: the files named on the command line (one regular file, every
// regular file under a directory, or stdin) and a non-blocking reader for each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <vector>

namespace dwcp::tools {

struct SourceFile {
  std::string disk_path;  // what to open; empty for stdin
  std::string relative;   // the path the receiver recreates, '/'-separated; empty for stdin
  std::uint64_t size = 0;
  std::uint32_t mode = 0;  // permission bits
  bool is_stdin = false;
};

struct SourceList {
  std::vector<SourceFile> files;     // sorted by relative path
  std::vector<std::string> skipped;  // entries of a tree that are not regular files
};

// `path`: "-" for stdin; a regular file (sent under its own name); or a directory, whose
// regular files are sent under "DIRNAME/relative/path" (symlinks and special files inside
// it are skipped, and listed). Error: one line naming the path that cannot be read.
std::expected<SourceList, std::string> collect_sources(const std::string& path);

// Reads one source in pieces. Files are read up to the size they had when listed, so the
// header's size stays true when a file grows; stdin is polled so that waiting for a slow
// producer never blocks the sender's loop.
class SourceReader {
 public:
  enum class State : std::uint8_t { data, end, would_block, error };
  struct Result {
    State state = State::end;
    std::size_t bytes = 0;  // with State::data
  };

  SourceReader() = default;
  SourceReader(SourceReader&& other) noexcept;
  SourceReader& operator=(SourceReader&& other) noexcept;
  SourceReader(const SourceReader&) = delete;
  SourceReader& operator=(const SourceReader&) = delete;
  ~SourceReader();

  // Error: one line naming the file.
  static std::expected<SourceReader, std::string> open(const SourceFile& file);

  // Up to out.size() bytes. `end` comes once the listed size was read (or stdin ended);
  // a file that shrank ends early: the caller compares the count with the size.
  Result read(std::span<std::byte> out);
  // What failed, after State::error.
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

 private:
  int fd_ = -1;
  bool owns_fd_ = false;
  bool is_stdin_ = false;
  std::uint64_t remaining_ = 0;  // files only
  std::string shown_;
  std::string error_;
};

}  // namespace dwcp::tools
