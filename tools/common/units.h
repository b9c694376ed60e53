// Number parsers for command lines: sizes (10M, 1G), rates (100M, 2.5G), seconds, ports.
// Each is pure, rejects trailing garbage, negatives, NaN and infinities, and on failure
// returns one line naming the value and the problem.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace dwcp::tools {

// "'TEXT' PROBLEM": how every parser here names a bad value.
std::string quoted(std::string_view text, std::string_view problem);
// A finite, non-negative number at the start of `text`; what follows goes to `suffix`.
// The building block of the parsers below, for units they do not know.
std::expected<double, std::string> leading_number(std::string_view text, std::string_view& suffix);

// Bytes: NUMBER[K|M|G|T][B|iB], binary multiples (1K = 1024), as iperf3's -n and -l.
std::expected<std::uint64_t, std::string> parse_size(std::string_view text);
// Bits per second: NUMBER[k|K|m|M|g|G|t|T][bit|bps|bit/s], decimal multiples (1M = 10^6),
// as iperf3's -b.
std::expected<std::uint64_t, std::string> parse_rate(std::string_view text);
// Seconds: a non-negative decimal number, at most a day.
std::expected<double, std::string> parse_seconds(std::string_view text);
// A UDP port, 0..65535.
std::expected<std::uint16_t, std::string> parse_port(std::string_view text);
// A whole number in [min, max].
std::expected<std::uint64_t, std::string> parse_count(std::string_view text, std::uint64_t min,
                                                      std::uint64_t max);

}  // namespace dwcp::tools
