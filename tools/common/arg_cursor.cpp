#include "tools/common/arg_cursor.h"

#include "tools/common/exit_codes.h"

namespace dwcp::tools {

std::string_view ArgCursor::next() noexcept {
  std::string_view arg = args_[next_++];
  has_inline_ = false;
  inline_value_ = {};
  if (arg.starts_with("--")) {
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      inline_value_ = arg.substr(eq + 1);
      has_inline_ = true;
      arg = arg.substr(0, eq);
    }
  }
  name_ = arg;
  return arg;
}

std::expected<std::string_view, CliError> ArgCursor::value() {
  if (has_inline_) {
    has_inline_ = false;
    return inline_value_;
  }
  if (done()) return std::unexpected(usage_error(name_, "needs a value"));
  return args_[next_++];
}

CliError usage_error(std::string_view name, std::string_view problem) {
  CliError error;
  error.message.append(name);
  error.message.append(": ");
  error.message.append(problem);
  error.exit_code = kExitUsage;
  return error;
}

}  // namespace dwcp::tools
