#include "tools/wanem/cli.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <vector>

#include "tools/common/units.h"
#include "tools/wanem/profiles.h"

namespace dwcp::wanem {
namespace {

using namespace std::string_view_literals;
using tools::leading_number;
using tools::quoted;

constexpr std::size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1
constexpr double kMaxSeconds = 24.0 * 3600.0;

// Strings are built by appending, never as "literal" + std::string: g++ 12 at -O3 warns
// falsely on that (-Wrestrict, GCC PR 105651).
template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

std::string bad_unit(std::string_view text, std::string_view suffix, std::string_view expected) {
  return quoted(text, "has unknown unit '") + std::string(suffix) + "' (expected " +
         std::string(expected) + ")";
}

std::expected<std::uint64_t, std::string> parse_count(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    return std::unexpected(quoted(text, "is not a non-negative integer"));
  }
  return value;
}

std::expected<double, std::string> parse_multiple(std::string_view text) {
  std::string_view suffix;
  auto value = leading_number(text, suffix);
  if (!value) return value;
  if (!suffix.empty()) return std::unexpected(bad_unit(text, suffix, "a plain number"));
  if (*value <= 0.0 || *value > 1000.0) {
    return std::unexpected(quoted(text, "is outside (0, 1000]"));
  }
  return value;
}

// --burst-loss PCT[/MEAN_BURST]
std::expected<GilbertElliottParams, std::string> parse_burst_loss(std::string_view text) {
  const auto slash = text.find('/');
  auto loss = parse_percent(text.substr(0, slash));
  if (!loss) return std::unexpected(loss.error());
  double mean_burst = 3.0;
  if (slash != std::string_view::npos) {
    std::string_view suffix;
    auto burst = leading_number(text.substr(slash + 1), suffix);
    if (!burst) return std::unexpected(burst.error());
    if (!suffix.empty() || *burst < 1.0) {
      return std::unexpected(cat("mean burst length in '", text, "' must be >= 1"));
    }
    mean_burst = *burst;
  }
  if (*loss >= 1.0) return std::unexpected("burst loss must be below 100%");
  if (*loss == 0.0) return GilbertElliottParams{};
  return GilbertElliottParams::for_mean_loss(*loss, mean_burst);
}

// Applies one link option (name without its direction prefix) to `link`. nullopt: no such
// link option. Otherwise an empty string on success or the problem.
std::optional<std::string> apply_link_option(std::string_view name, std::string_view value,
                                             LinkParams& link) {
  using std::chrono::milliseconds;
  auto set_percent = [&](double& field) -> std::string {
    auto v = parse_percent(value);
    if (!v) return v.error();
    field = *v;
    return {};
  };
  auto set_delay = [&](Duration& field) -> std::string {
    auto v = parse_duration(value, milliseconds(1));
    if (!v) return v.error();
    if (*v > std::chrono::seconds(60)) return quoted(value, "is above 60 s");
    field = *v;
    return {};
  };
  if (name == "delay") return set_delay(link.delay);
  if (name == "jitter") return set_delay(link.jitter);
  if (name == "reorder-delay") return set_delay(link.reorder_delay);
  if (name == "loss") return set_percent(link.loss);
  if (name == "reorder") return set_percent(link.reorder);
  if (name == "duplicate") return set_percent(link.duplicate);
  if (name == "corrupt") return set_percent(link.corrupt);
  if (name == "burst-p") return set_percent(link.burst.p);
  if (name == "burst-r") return set_percent(link.burst.r);
  if (name == "burst-loss-bad") return set_percent(link.burst.loss_bad);
  if (name == "burst-loss-good") return set_percent(link.burst.loss_good);
  if (name == "burst-loss") {
    auto v = parse_burst_loss(value);
    if (!v) return v.error();
    link.burst = *v;
    return std::string{};
  }
  if (name == "rate") {
    auto v = parse_rate(value);
    if (!v) return v.error();
    link.rate_bps = *v;
    return std::string{};
  }
  if (name == "queue") {
    auto v = parse_bytes(value);
    if (!v) return v.error();
    if (*v < 2048) return quoted(value, "is below 2048 bytes");
    link.queue_bytes = *v;
    return std::string{};
  }
  if (name == "queue-bdp") {
    auto v = parse_multiple(value);
    if (!v) return v.error();
    link.queue_bdp = *v;
    link.queue_bytes = 0;
    return std::string{};
  }
  return std::nullopt;
}

bool takes_no_value(std::string_view name) {
  return name == "help" || name == "version" || name == "list-profiles" || name == "quiet";
}

struct Option {
  std::string_view name;   // without the leading "--"
  std::string_view value;  // empty for flags
};

}  // namespace

std::expected<Duration, std::string> parse_duration(std::string_view text, Duration bare_unit) {
  std::string_view suffix;
  auto value = leading_number(text, suffix);
  if (!value) return std::unexpected(value.error());
  double ns_per_unit = 0.0;
  if (suffix.empty()) {
    ns_per_unit = static_cast<double>(bare_unit.count());
  } else if (suffix == "ns") {
    ns_per_unit = 1.0;
  } else if (suffix == "us") {
    ns_per_unit = 1e3;
  } else if (suffix == "ms") {
    ns_per_unit = 1e6;
  } else if (suffix == "s") {
    ns_per_unit = 1e9;
  } else {
    return std::unexpected(bad_unit(text, suffix, "ns, us, ms or s"));
  }
  const double ns = *value * ns_per_unit;
  if (ns > kMaxSeconds * 1e9) return std::unexpected(quoted(text, "is too long"));
  return Duration{static_cast<std::int64_t>(std::llround(ns))};
}

std::expected<double, std::string> parse_percent(std::string_view text) {
  std::string_view suffix;
  auto value = leading_number(text, suffix);
  if (!value) return value;
  if (!suffix.empty() && suffix != "%") return std::unexpected(bad_unit(text, suffix, "%"));
  if (*value > 100.0) return std::unexpected(quoted(text, "is above 100%"));
  return *value / 100.0;
}

std::expected<std::uint64_t, std::string> parse_rate(std::string_view text) {
  auto bps = tools::parse_rate(text);
  if (!bps) return bps;
  if (*bps >= 1'000'000'000'000U) return std::unexpected(quoted(text, "is 1 Tbit/s or more"));
  if (*bps > 0 && *bps < 8000) return std::unexpected(quoted(text, "is below 8 kbit/s"));
  return bps;
}

std::expected<std::uint64_t, std::string> parse_bytes(std::string_view text) {
  auto bytes = tools::parse_size(text);
  if (!bytes) return bytes;
  if (*bytes > std::uint64_t{64} << 30) return std::unexpected(quoted(text, "is above 64 GiB"));
  return bytes;
}

std::expected<Config, CliError> parse_command_line(std::span<const std::string_view> args) {
  auto fail = [](std::string message) {
    return std::unexpected(CliError{std::move(message), kExitUsage});
  };
  // Pass 1: split into options and positionals, so the profile applies before any override
  // wherever it stands.
  std::vector<Option> options;
  std::optional<std::string_view> profile_name;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (!arg.starts_with("--")) {
      if (profile_name) {
        return fail(cat("unexpected argument '", arg, "' (profile already given)"));
      }
      profile_name = arg;
      continue;
    }
    std::string_view name = arg.substr(2);
    std::string_view value;
    const auto equals = name.find('=');
    if (equals != std::string_view::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
      if (takes_no_value(name)) return fail(cat("option --", name, " takes no value"));
    } else if (!takes_no_value(name)) {
      if (i + 1 >= args.size()) return fail(cat("option --", name, " needs a value"));
      value = args[++i];
    }
    if (name == "profile") {
      if (profile_name) return fail("profile given twice");
      profile_name = value;
      continue;
    }
    options.push_back(Option{name, value});
  }

  Config config;
  if (profile_name) {
    const auto profile = find_profile(*profile_name);
    if (!profile) {
      return fail(cat("unknown profile '", *profile_name, "' (--list-profiles lists them)"));
    }
    config.profile = std::string(profile->name);
  }
  config.link[0] = config.link[1] = find_profile(config.profile)->link;

  // Pass 2: options in order; a later one wins.
  for (const Option& o : options) {
    const std::string flag = cat("--", o.name);
    if (o.name == "help") {
      config.action = Action::help;
    } else if (o.name == "version") {
      config.action = Action::version;
    } else if (o.name == "list-profiles") {
      config.action = Action::list_profiles;
    } else if (o.name == "quiet") {
      config.quiet = true;
    } else if (o.name == "if-a" || o.name == "if-b") {
      if (o.value.empty() || o.value.size() > kMaxInterfaceName ||
          o.value.find_first_of("/ \t\n") != std::string_view::npos) {
        return fail(cat(flag, ": '", o.value, "' is not a valid interface name"));
      }
      (o.name == "if-a" ? config.if_a : config.if_b) = std::string(o.value);
    } else if (o.name == "seed") {
      auto v = parse_count(o.value);
      if (!v) return fail(flag + ": " + v.error());
      config.seed = *v;
    } else if (o.name == "duration") {
      auto v = parse_duration(o.value, std::chrono::seconds(1));
      if (!v) return fail(flag + ": " + v.error());
      config.duration = *v;
    } else if (o.name == "json") {
      if (o.value.empty()) return fail(flag + ": empty file name");
      config.json_path = std::string(o.value);
    } else if (o.name == "max-packets") {
      auto v = parse_count(o.value);
      if (!v) return fail(flag + ": " + v.error());
      if (*v < 1024 || *v > 4'000'000) return fail(flag + ": must be in [1024, 4000000]");
      config.max_packets = static_cast<std::uint32_t>(*v);
    } else {
      std::string_view name = o.name;
      int only = -1;
      if (name.starts_with("a2b-")) {
        only = 0;
        name.remove_prefix(4);
      } else if (name.starts_with("b2a-")) {
        only = 1;
        name.remove_prefix(4);
      }
      for (int d = 0; d < 2; ++d) {
        if (only != -1 && only != d) continue;
        const auto problem =
            apply_link_option(name, o.value, config.link[static_cast<std::size_t>(d)]);
        if (!problem) return fail("unknown option " + flag + " (--help lists them)");
        if (!problem->empty()) return fail(flag + ": " + *problem);
      }
    }
  }
  for (const LinkParams& link : config.link) {
    if (link.burst.enabled() && link.burst.r <= 0.0) {
      return fail("--burst-r must be above 0 when --burst-p is set");
    }
  }
  if (config.action == Action::run && (config.if_a.empty() || config.if_b.empty())) {
    return fail("both --if-a and --if-b are required");
  }
  if (config.action == Action::run && config.if_a == config.if_b) {
    return fail("--if-a and --if-b name the same interface");
  }
  return config;
}

std::string usage_text() {
  return R"(usage: dwcp-wanem --if-a IFACE --if-b IFACE [PROFILE] [OPTIONS]

Bridges Ethernet frames between two interfaces (AF_PACKET), impairing each direction.
PROFILE: lan (default), metro, continental, intercontinental, lossy-mobile, satellite
(--list-profiles). Options override the profile.

Link options, both directions; prefix a2b- or b2a- for one (--a2b-loss 1%):
  --delay D            one-way delay (bare number: ms; units ns, us, ms, s)
  --jitter D           uniform +-D around the delay, order kept
  --loss P             random loss, percent (1 or 1%)
  --burst-loss P[/L]   Gilbert-Elliott loss of P percent in bursts of L (default 3) packets
  --burst-p P --burst-r P --burst-loss-bad P --burst-loss-good P
                       Gilbert-Elliott parameters, percent per packet
  --reorder P          percent of packets held back by --reorder-delay (default 1 ms)
  --reorder-delay D
  --duplicate P        percent of packets sent twice
  --corrupt P          percent of packets with one payload byte flipped
  --rate R             bit/s of frame bytes (500M, 1G, 100kbit); 0 = unlimited
  --queue BYTES        drop-tail queue (64K, 4M); default 1 x BDP, at least 64 KiB
  --queue-bdp X        queue of X times rate x 2 x delay

Run options:
  --if-a IFACE --if-b IFACE   the two ports (A side, B side)
  --seed N             random seed (default 1): the same seed repeats a run
  --duration D         stop after D (bare number: seconds); default: until SIGINT/SIGTERM
  --json FILE          write the counters as JSON at exit
  --max-packets N      packet buffers (2 KiB each, default 262144)
  --quiet              no summary on stderr at exit
  --list-profiles  --version  --help

Exit codes: 0 done, 1 runtime failure, 2 bad command line, 3 set-up failure
(interface missing, not permitted).
)";
}

}  // namespace dwcp::wanem
