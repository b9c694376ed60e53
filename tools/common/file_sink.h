// Where dwcp-recv puts a received file's content: a temporary file under the --output
// directory, renamed into place once its XXH3-128 verified, or stdout (--stdout).
//
// The relative path comes from the network. It must have passed check_relative_path()
// (tools/common/stream_header.h); on top of that the sink walks it one component at a time
// with openat(O_NOFOLLOW | O_DIRECTORY), so a symlink already inside the output directory
// (or planted there by an earlier file) can never lead a write outside of it. The final
// rename replaces a symlink at the file's own name rather than following it.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>

namespace dwcp::tools {

// Opens (creating it and its parents when missing) the directory files are written under.
// Error: one line naming the directory and the problem.
std::expected<int, std::string> open_output_directory(const std::string& path);

struct SinkError {
  bool rejected_path = false;  // the path leads through a symlink: hostile, not a disk problem
  std::string message;         // one line
};

class FileSink {
 public:
  FileSink() = default;  // writes nowhere; commit() and discard() do nothing
  FileSink(FileSink&& other) noexcept;
  FileSink& operator=(FileSink&& other) noexcept;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  ~FileSink();  // discards what was not committed

  // A temporary file for `relative` under the directory `dir_fd` (which stays open and
  // owned by the caller), its missing parent directories created. `mode`'s permission
  // bits (0777 at most; the umask applies) become the file's. `tag` makes the temporary
  // name unique among concurrent sinks: ".dwcp-TAG.part" beside the final name.
  static std::expected<FileSink, SinkError> create(int dir_fd, std::string_view relative,
                                                   std::uint32_t mode, std::string_view tag);
  // Writes to the process's standard output, which the sink never closes.
  static FileSink to_stdout() noexcept;

  // Appends `bytes`; false once anything failed (error() says what; later writes are
  // dropped).
  bool write(std::span<const std::byte> bytes);
  // The file under its final name (stdout: nothing to do). Error: one line.
  std::expected<void, std::string> commit();
  // Removes the temporary file.
  void discard() noexcept;

  [[nodiscard]] bool failed() const noexcept { return !error_.empty(); }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

 private:
  void close_all() noexcept;

  int parent_fd_ = -1;  // the directory holding the temporary and the final name
  int fd_ = -1;
  bool owns_fd_ = false;
  std::string temp_name_;
  std::string final_name_;
  std::string relative_;
  std::string error_;
};

}  // namespace dwcp::tools
