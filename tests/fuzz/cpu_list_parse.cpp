// CPU lists come from the command line (--cpus) and from sysfs. Any input must parse or
// fail cleanly, and whatever parses must survive a round trip through to_string().
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "affinity/cpu_set.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = dwcp::affinity::CpuSet::parse(text);
  if (!parsed) return 0;
  const auto again = dwcp::affinity::CpuSet::parse(parsed->to_string());
  if (!parsed->empty() && (!again || *again != *parsed)) __builtin_trap();
  return 0;
}
