#include "affinity/affinity_error.h"

#include <cstdio>
#include <cstring>
#include <utility>

namespace dwcp::affinity {

std::string_view to_string(AffinityErrc code) {
  switch (code) {
    case AffinityErrc::malformed_cpu_list:
      return "malformed_cpu_list";
    case AffinityErrc::no_such_cpu:
      return "no_such_cpu";
    case AffinityErrc::no_such_node:
      return "no_such_node";
    case AffinityErrc::no_such_interface:
      return "no_such_interface";
    case AffinityErrc::system_error:
      return "system_error";
  }
  return "unknown";
}

namespace {

std::string_view headline(AffinityErrc code) {
  switch (code) {
    case AffinityErrc::malformed_cpu_list:
      return "malformed CPU list";
    case AffinityErrc::no_such_cpu:
      return "no such CPU";
    case AffinityErrc::no_such_node:
      return "no such NUMA node";
    case AffinityErrc::no_such_interface:
      return "no such network interface";
    case AffinityErrc::system_error:
      return "system error";
  }
  return "unknown affinity error";
}

}  // namespace

std::string to_string(const AffinityError& error) {
  std::string out(headline(error.code));
  if (error.detail.empty()) return out;
  out += ": ";
  for (const char c : error.detail) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

AffinityError make_system_error(std::string_view what, int errno_value) {
  // strerrorname_np/strerrordesc_np return static strings, unlike strerror, so they are
  // safe from any thread; both return null for values glibc does not know.
  const char* name = strerrorname_np(errno_value);
  const char* desc = strerrordesc_np(errno_value);
  std::string detail(what);
  detail += ": ";
  detail += name != nullptr ? name : "errno " + std::to_string(errno_value);
  if (desc != nullptr) {
    detail += " (";
    detail += desc;
    detail += ')';
  }
  return AffinityError{AffinityErrc::system_error, std::move(detail)};
}

}  // namespace dwcp::affinity
