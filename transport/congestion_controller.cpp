#include "transport/congestion_controller.h"

#include <stdexcept>
#include <string>

#include "transport/congestion_bbr.h"
#include "transport/congestion_cubic.h"
#include "transport/congestion_fixed.h"

namespace dwcp::transport {

std::string_view to_string(CongestionAlgorithm algorithm) noexcept {
  switch (algorithm) {
    case CongestionAlgorithm::bbr:
      return "bbr";
    case CongestionAlgorithm::cubic:
      return "cubic";
    case CongestionAlgorithm::fixed:
      return "fixed";
  }
  return "unknown";
}

std::optional<CongestionAlgorithm> parse_congestion_algorithm(std::string_view name) noexcept {
  for (auto algorithm :
       {CongestionAlgorithm::bbr, CongestionAlgorithm::cubic, CongestionAlgorithm::fixed}) {
    if (name == to_string(algorithm)) return algorithm;
  }
  return std::nullopt;
}

std::unique_ptr<CongestionController> make_congestion_controller(CongestionAlgorithm algorithm,
                                                                 const CongestionConfig& config) {
  if (config.max_datagram_size == 0) {
    throw std::invalid_argument("congestion controller: max_datagram_size must be > 0");
  }
  switch (algorithm) {
    case CongestionAlgorithm::fixed:
      return std::make_unique<FixedRateController>(config);
    case CongestionAlgorithm::bbr:
      return std::make_unique<BbrController>(config);
    case CongestionAlgorithm::cubic:
      return std::make_unique<CubicController>(config);
  }
  std::string message = "congestion controller: unknown algorithm ";
  message.append(std::to_string(static_cast<int>(algorithm)));
  throw std::invalid_argument(message);
}

}  // namespace dwcp::transport
