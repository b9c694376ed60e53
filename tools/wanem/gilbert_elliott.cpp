#include "tools/wanem/gilbert_elliott.h"

namespace dwcp::wanem {

double GilbertElliottParams::mean_loss() const {
  if (!enabled()) return 0.0;
  return (r * loss_good + p * loss_bad) / (p + r);
}

GilbertElliottParams GilbertElliottParams::for_mean_loss(double loss, double mean_burst) {
  GilbertElliottParams params;
  params.r = 1.0 / mean_burst;
  // Share of time in bad = p / (p + r) = loss.
  params.p = loss * params.r / (1.0 - loss);
  return params;
}

bool GilbertElliott::lose(Random& random) {
  if (!params_.enabled()) return false;
  const bool lost = random.chance(bad_ ? params_.loss_bad : params_.loss_good);
  bad_ = bad_ ? !random.chance(params_.r) : random.chance(params_.p);
  return lost;
}

}  // namespace dwcp::wanem
