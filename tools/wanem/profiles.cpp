#include "tools/wanem/profiles.h"

#include <array>

namespace dwcp::wanem {
namespace {

using std::chrono::milliseconds;

constexpr std::uint64_t kMbit = 1'000'000;
constexpr std::uint64_t kGbit = 1'000'000'000;

LinkParams link(milliseconds rtt, double loss, std::uint64_t rate_bps) {
  LinkParams p;
  p.delay = rtt / 2;
  p.loss = loss;
  p.rate_bps = rate_bps;
  return p;
}

LinkParams lossy_mobile() {
  LinkParams p = link(milliseconds(80), 0.0, 50 * kMbit);
  p.burst = GilbertElliottParams::for_mean_loss(0.03, 3.0);  // 3% in bursts of 3 on average
  return p;
}

const std::array<Profile, 6> kProfiles{{
    {"lan", "no impairment, no rate limit", LinkParams{}},
    {"metro", "10 ms RTT, 1 Gbit/s", link(milliseconds(10), 0.0, kGbit)},
    {"continental", "40 ms RTT, 0.1% loss, 1 Gbit/s", link(milliseconds(40), 0.001, kGbit)},
    {"intercontinental", "150 ms RTT, 1% loss, 500 Mbit/s",
     link(milliseconds(150), 0.01, 500 * kMbit)},
    {"lossy-mobile", "80 ms RTT, 3% loss in bursts (Gilbert-Elliott, mean burst 3), 50 Mbit/s",
     lossy_mobile()},
    {"satellite", "600 ms RTT, 0.5% loss, 100 Mbit/s", link(milliseconds(600), 0.005, 100 * kMbit)},
}};

}  // namespace

std::span<const Profile> profiles() {
  return kProfiles;
}

std::optional<Profile> find_profile(std::string_view name) {
  for (const Profile& p : kProfiles) {
    if (p.name == name) return p;
  }
  return std::nullopt;
}

}  // namespace dwcp::wanem
