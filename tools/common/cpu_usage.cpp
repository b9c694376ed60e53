#include "tools/common/cpu_usage.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstring>

namespace dwcp::tools {

double process_cpu_seconds() noexcept {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0.0;
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double cpu_clock_hz() noexcept {
  static const double hz = [] {
    std::FILE* file = std::fopen("/proc/cpuinfo", "re");
    if (file == nullptr) return 0.0;
    double mhz = 0.0;
    char line[256];
    while (std::fgets(line, sizeof line, file) != nullptr) {
      if (std::strncmp(line, "cpu MHz", 7) != 0) continue;
      const char* colon = std::strchr(line, ':');
      if (colon != nullptr && std::sscanf(colon + 1, "%lf", &mhz) != 1) mhz = 0.0;
      break;
    }
    std::fclose(file);
    return mhz > 0.0 ? mhz * 1e6 : 0.0;
  }();
  return hz;
}

}  // namespace dwcp::tools
