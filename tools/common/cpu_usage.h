// CPU time of the whole process (getrusage: every thread, user and system), for the
// reports' CPU % and CPU seconds per GB.
#pragma once

namespace dwcp::tools {

// User plus system CPU seconds this process has used so far.
double process_cpu_seconds() noexcept;

}  // namespace dwcp::tools
