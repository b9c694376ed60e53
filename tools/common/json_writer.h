// One flat JSON object, written field by field into a string: what --json prints. Keys
// and strings are escaped (RFC 8259 §7); doubles that are not finite become null.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dwcp::tools {

class JsonObject {
 public:
  JsonObject& add(std::string_view key, std::string_view value);
  JsonObject& add(std::string_view key, const char* value) {
    return add(key, std::string_view(value));
  }
  JsonObject& add(std::string_view key, std::uint64_t value);
  JsonObject& add(std::string_view key, double value);
  JsonObject& add(std::string_view key, bool value);

  // "{...}" on one line, no trailing newline.
  [[nodiscard]] std::string str() const;

 private:
  void key(std::string_view name);
  std::string body_;
};

// `text` as a JSON string literal, quotes included.
std::string json_quote(std::string_view text);

}  // namespace dwcp::tools
