// Walks a command line one option at a time: "-x VALUE", "--name VALUE" and "--name=VALUE".
// Pure; the tools' option parsers (tools/send/send_options.h, tools/recv/recv_options.h)
// are built on it and unit-tested.
#pragma once

#include <cstddef>
#include <expected>
#include <span>
#include <string>
#include <string_view>

namespace dwcp::tools {

// A command line that cannot be used: one line naming the option and the problem, and the
// exit code (tools/common/exit_codes.h) the tool returns.
struct CliError {
  std::string message;
  int exit_code = 2;
};

class ArgCursor {
 public:
  // `args` excludes the program name and must outlive the cursor.
  explicit ArgCursor(std::span<const std::string_view> args) noexcept : args_(args) {}

  [[nodiscard]] bool done() const noexcept { return next_ >= args_.size(); }
  // The next option's name ("-c", "--json"), without any "=VALUE". Call only when !done().
  std::string_view next() noexcept;
  // The current option's value: its "=VALUE", else the following argument. Error: the
  // option has none.
  std::expected<std::string_view, CliError> value();
  // The current option took no value but was written "--name=VALUE".
  [[nodiscard]] bool has_inline_value() const noexcept { return has_inline_; }

 private:
  std::span<const std::string_view> args_;
  std::size_t next_ = 0;
  std::string_view name_;
  std::string_view inline_value_;
  bool has_inline_ = false;
};

// "NAME: PROBLEM" as a usage error.
CliError usage_error(std::string_view name, std::string_view problem);

}  // namespace dwcp::tools
