// Burst loss after Gilbert and Elliott: a two-state Markov chain evaluated once per
// packet. In the good state a packet is lost with probability loss_good, in the bad state
// with loss_bad; after each packet the chain moves good -> bad with probability p and
// bad -> good with probability r. Stationary share of the bad state: p / (p + r); mean
// burst length (time spent in bad) 1 / r packets. With loss_bad 1 and loss_good 0 this is
// the simple Gilbert model, the one netem calls "gemodel p r".
// (E. N. Gilbert, "Capacity of a burst-noise channel", 1960; E. O. Elliott, 1963.)
#pragma once

#include "tools/wanem/random.h"

namespace dwcp::wanem {

struct GilbertElliottParams {
  double p = 0.0;          // good -> bad, per packet; 0 disables the model
  double r = 1.0;          // bad -> good, per packet
  double loss_bad = 1.0;   // loss probability in the bad state
  double loss_good = 0.0;  // loss probability in the good state

  bool enabled() const { return p > 0.0; }
  // The long-run loss rate: (r * loss_good + p * loss_bad) / (p + r).
  double mean_loss() const;
  // Parameters that lose `loss` of the packets in bursts of `mean_burst` packets on average
  // (loss_bad 1, loss_good 0). loss in (0, 1), mean_burst >= 1.
  static GilbertElliottParams for_mean_loss(double loss, double mean_burst);
};

class GilbertElliott {
 public:
  explicit GilbertElliott(const GilbertElliottParams& params) : params_(params) {}

  // Decides the fate of one packet, then steps the chain. True: the packet is lost.
  bool lose(Random& random);
  bool in_bad_state() const { return bad_; }

 private:
  GilbertElliottParams params_;
  bool bad_ = false;
};

}  // namespace dwcp::wanem
