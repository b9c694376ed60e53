#include "tools/common/close_reason_text.h"

namespace dwcp::tools {

std::string describe(const std::optional<transport::CloseReason>& reason) {
  if (!reason) return "no close reason";
  std::string text = reason->idle_timeout ? "idle timeout" : reason->reason;
  if (text.empty()) text = reason->by_peer ? "closed by the peer" : "closed";
  if (reason->error_code != 0) text += " (code " + std::to_string(reason->error_code) + ")";
  return text;
}

}  // namespace dwcp::tools
