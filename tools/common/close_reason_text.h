// A connection's close reason as the tools print it: "idle timeout", the peer's reason, or
// "closed by the peer" / "closed", with the error code when there is one.
#pragma once

#include <optional>
#include <string>

#include "transport/connection.h"

namespace dwcp::tools {

[[nodiscard]] std::string describe(const std::optional<transport::CloseReason>& reason);

}  // namespace dwcp::tools
