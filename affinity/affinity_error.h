// Errors of the affinity module: CPU-list parsing, topology look-ups, pinning and memory
// binding. Every fallible call returns AffinityResult<T>; nothing here throws.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace dwcp::affinity {

enum class AffinityErrc {
  malformed_cpu_list,  // text is not a valid Linux cpu-list ("0-3,8")
  no_such_cpu,         // a CPU id the machine does not have, or an empty CPU set
  no_such_node,        // a NUMA node id the machine does not have
  no_such_interface,   // a network interface that does not exist, or an unsafe name
  system_error,        // the kernel or sysfs refused or was unreadable; detail has errno text
};

struct AffinityError {
  AffinityErrc code;
  // What went wrong, for people: names the offending input and, for parse errors, its
  // 0-based byte position. May quote raw user input; to_string() makes it one line.
  std::string detail;
};

template <class T>
using AffinityResult = std::expected<T, AffinityError>;

// The enumerator's name ("malformed_cpu_list"); "unknown" for values outside the enum.
std::string_view to_string(AffinityErrc code);

// One line for logs and CLIs: "<what>: <detail>", with control characters in the detail
// escaped as \n, \t or \xNN so the result never spans lines.
std::string to_string(const AffinityError& error);

// A system_error whose detail is "<what>: <errno name> (<description>)", for example
// "cannot read /sys/devices/system/cpu/online: ENOENT (No such file or directory)".
AffinityError make_system_error(std::string_view what, int errno_value);

}  // namespace dwcp::affinity
