// CPU time of the whole process (getrusage: every thread, user and system), for the
// reports' CPU %, CPU seconds per GB and estimated cycles per byte.
#pragma once

namespace dwcp::tools {

// User plus system CPU seconds this process has used so far.
double process_cpu_seconds() noexcept;

// The CPU clock in Hz as the kernel reports it (the first "cpu MHz" of /proc/cpuinfo, read
// once), to turn CPU seconds into an estimate of cycles; 0 when unknown. Under turbo or
// power saving the real clock differs, so cycles derived from it are approximate.
double cpu_clock_hz() noexcept;

}  // namespace dwcp::tools
