// Named link profiles. A profile's RTT is split evenly into one-way delay per direction;
// loss and rate apply to each direction alone.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "tools/wanem/link_model.h"

namespace dwcp::wanem {

struct Profile {
  std::string_view name;
  std::string_view summary;  // one line for --list-profiles
  LinkParams link;           // the same in both directions
};

// Every profile, in the order --list-profiles prints them.
std::span<const Profile> profiles();
// The profile called `name`, or nullopt.
std::optional<Profile> find_profile(std::string_view name);

}  // namespace dwcp::wanem
