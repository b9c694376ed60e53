#include "tools/common/printable.h"

#include <cstddef>

namespace dwcp::tools {

std::string printable(std::string_view text) {
  constexpr std::size_t kShown = 200;
  std::string out;
  for (const char c : text.substr(0, kShown)) {
    const auto byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte == 0x7f ? '?' : c;
  }
  if (text.size() > kShown) out += "...";
  return out;
}

}  // namespace dwcp::tools
