#include "tools/common/units.h"

#include <charconv>
#include <cmath>

namespace dwcp::tools {
namespace {

constexpr double kMaxSeconds = 24.0 * 3600.0;

std::expected<std::uint64_t, std::string> scaled(std::string_view text, double value,
                                                 double multiple) {
  const double result = std::round(value * multiple);
  if (result >= 18446744073709551616.0) return std::unexpected(quoted(text, "is too large"));
  return static_cast<std::uint64_t>(result);
}

}  // namespace

// "'TEXT' REST", built by appending: g++ 12 at -O3 warns falsely (-Wrestrict, GCC PR 105651)
// on "literal" + std::string.
std::string quoted(std::string_view text, std::string_view problem) {
  std::string out;
  out.reserve(text.size() + problem.size() + 3);
  out += '\'';
  out += text;
  out += "' ";
  out += problem;
  return out;
}

std::expected<double, std::string> leading_number(std::string_view text, std::string_view& suffix) {
  if (text.empty()) return std::unexpected("empty value");
  double value = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data()) {
    return std::unexpected(quoted(text, "is not a number"));
  }
  if (!std::isfinite(value)) return std::unexpected(quoted(text, "is not finite"));
  if (value < 0.0 || std::signbit(value)) return std::unexpected(quoted(text, "is negative"));
  suffix = text.substr(static_cast<std::size_t>(end - text.data()));
  return value;
}

std::expected<std::uint64_t, std::string> parse_size(std::string_view text) {
  std::string_view suffix;
  auto value = leading_number(text, suffix);
  if (!value) return std::unexpected(value.error());
  double multiple = 1.0;
  if (!suffix.empty()) {
    switch (suffix.front()) {
      case 'k':
      case 'K':
        multiple = 1024.0;
        break;
      case 'm':
      case 'M':
        multiple = 1024.0 * 1024.0;
        break;
      case 'g':
      case 'G':
        multiple = 1024.0 * 1024.0 * 1024.0;
        break;
      case 't':
      case 'T':
        multiple = 1024.0 * 1024.0 * 1024.0 * 1024.0;
        break;
      default:
        break;
    }
    if (multiple != 1.0) suffix.remove_prefix(1);
  }
  if (!suffix.empty() && suffix != "B" && suffix != "iB") {
    return std::unexpected(quoted(text, "has an unknown unit (expected K, M, G or T)"));
  }
  return scaled(text, *value, multiple);
}

std::expected<std::uint64_t, std::string> parse_rate(std::string_view text) {
  std::string_view suffix;
  auto value = leading_number(text, suffix);
  if (!value) return std::unexpected(value.error());
  double multiple = 1.0;
  if (!suffix.empty()) {
    switch (suffix.front()) {
      case 'k':
      case 'K':
        multiple = 1e3;
        break;
      case 'm':
      case 'M':
        multiple = 1e6;
        break;
      case 'g':
      case 'G':
        multiple = 1e9;
        break;
      case 't':
      case 'T':
        multiple = 1e12;
        break;
      default:
        break;
    }
    if (multiple != 1.0) suffix.remove_prefix(1);
  }
  if (!suffix.empty() && suffix != "bit" && suffix != "bps" && suffix != "bit/s") {
    return std::unexpected(quoted(text, "has an unknown unit (expected k, M, G or T bit/s)"));
  }
  return scaled(text, *value, multiple);
}

std::expected<double, std::string> parse_seconds(std::string_view text) {
  std::string_view suffix;
  auto value = leading_number(text, suffix);
  if (!value) return value;
  if (suffix == "s") suffix = {};
  if (!suffix.empty()) return std::unexpected(quoted(text, "is not a number of seconds"));
  if (*value > kMaxSeconds) return std::unexpected(quoted(text, "is more than a day"));
  return value;
}

std::expected<std::uint16_t, std::string> parse_port(std::string_view text) {
  auto value = parse_count(text, 0, 65535);
  if (!value) return std::unexpected(quoted(text, "is not a port (0..65535)"));
  return static_cast<std::uint16_t>(*value);
}

std::expected<std::uint64_t, std::string> parse_count(std::string_view text, std::uint64_t min,
                                                      std::uint64_t max) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    return std::unexpected(quoted(text, "is not a whole number"));
  }
  if (value < min || value > max) {
    std::string range = "is outside ";
    range += std::to_string(min);
    range += "..";
    range += std::to_string(max);
    return std::unexpected(quoted(text, range));
  }
  return value;
}

}  // namespace dwcp::tools
