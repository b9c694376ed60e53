// Text that came from the network (a path, a peer's message), fit for one line of a
// terminal: control bytes become '?', and anything past 200 bytes is cut to "...".
#pragma once

#include <string>
#include <string_view>

namespace dwcp::tools {

[[nodiscard]] std::string printable(std::string_view text);

}  // namespace dwcp::tools
