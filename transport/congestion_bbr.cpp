#include "transport/congestion_bbr.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "transport/pacer.h"

namespace dwcp::transport {
namespace {

using std::chrono::milliseconds;

// 4 ln 2: the smallest gain that doubles the delivery rate every round (draft §4.6.1).
constexpr double kStartupPacingGain = 2.77;
constexpr double kStartupCwndGain = 2.0;
constexpr double kDrainPacingGain = 1.0 / kStartupPacingGain;
constexpr double kProbeBwCwndGain = 2.0;
// One phase per min RTT: probe up, drain what probing queued, cruise for six.
constexpr std::array<double, 8> kProbeBwGains = {1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
constexpr std::size_t kProbeUpPhase = 0;
// Pace 1% below the estimate so a queue left by probing drains even when cruising.
constexpr double kPacingMargin = 0.99;

constexpr double kFullBwGrowth = 1.25;
constexpr std::uint64_t kFullBwRounds = 3;
// Startup also ends when the first RTT samples of a round all stand this far above the min
// RTT (an eighth of it, clamped as HyStart++ does, RFC 9406 §4.2).
constexpr std::uint64_t kRoundOpeningSamples = 8;
constexpr Duration kStartupQueueFloor = milliseconds(4);
constexpr Duration kStartupQueueCap = milliseconds(16);

constexpr Duration kProbeRttDuration = milliseconds(200);
// ProbeRTT holds half the BDP in flight (BBRv2), not four datagrams: the queue drains as
// surely, and the link keeps half its rate meanwhile. On a 600 ms path the dip lasts over a
// second every 10 s, which at four datagrams cost ~12% of the throughput.
constexpr double kProbeRttCwndGain = 0.5;
constexpr std::uint64_t kProbeRttMinPackets = 4;
// A sample this close to the min RTT (a sixteenth of it, and never less than the floor)
// shows the queue drained by itself: it confirms the minimum, so ProbeRTT is not needed.
// Exact equality almost never happens on a real path, where timestamps jitter by
// microseconds. A path whose delay grew by more than this still re-measures after 10 s.
constexpr double kMinRttConfirmFraction = 1.0 / 16.0;
constexpr Duration kMinRttConfirmFloor = std::chrono::microseconds(50);
// A round in which not one RTT sample came within this of the min RTT (an eighth of it,
// and never less than the floor, above a busy host's scheduling noise) ran over a standing
// queue: the bandwidth estimate is a little high (ACK jitter makes delivery-rate samples
// run ahead of the link, and the filter keeps the highest), and pacing 1% under it does
// not drain what probing left. Cruising then paces this much under the estimate until a
// sample shows the queue gone. A busy bottleneck stays busy while its queue drains.
constexpr double kStandingQueueFraction = 1.0 / 8.0;
constexpr Duration kStandingQueueFloor = milliseconds(1);
constexpr double kStandingQueueGain = 0.95;
constexpr Duration kDefaultInitialRtt = milliseconds(100);

// A round whose loss rate is at or below this is noise, not congestion (BBRv2).
constexpr double kLossThreshold = 0.02;
// Above it, loss means congestion only when the round also saw a queue: an RTT sample at
// least this far above the min RTT (half of it, and never less than the floor, which is
// above the scheduling noise of a busy host). A drop-tail bottleneck that overflows holds a
// full queue, so its drops come with a raised RTT; random loss (radio, a lossy long line)
// strikes at any queue length. Without this test a path with 3% random loss pins the
// flight to its floor, which is what BBRv2's bare 2% threshold does.
constexpr double kQueueRttFraction = 0.5;
constexpr Duration kQueueRttFloor = milliseconds(2);
// A loss rate this high is congestion even without a queue (a policer drops at once).
constexpr double kPolicerLossThreshold = 0.15;
// A round in which the sender, neither out of window nor out of data, sent less than this
// share of what its pacing rate allowed was held back by its own host (the thread lost its
// core, or woke late), not by the path. The next round's samples, which measure those
// packets, say nothing of the path: like app-limited ones they may raise the bandwidth
// estimate but not age it. Without this a busy host pulls the estimate down every round,
// and with it the pacing rate, in a spiral (seen on the WAN lab under load: 264 -> 74
// Mbit/s in three seconds on a 1 Gbit/s path).
constexpr double kSenderLimitedShare = 0.95;
// A round must also lose at least this many packets: a handful of random losses in a
// short round can exceed 2% by chance. Startup needs more evidence before it gives up.
constexpr std::uint64_t kStartupLossPackets = 8;
constexpr std::uint64_t kProbeBwLossPackets = 3;
constexpr double kBeta = 0.7;
// Outside probing, leave part of inflight_hi to other flows.
constexpr double kHeadroom = 0.15;
// ACK aggregation: rounds per slot of the two-slot max filter, and the most extra room it
// may add (the estimated bandwidth over this long), as in Linux's BBR.
constexpr std::uint64_t kExtraAckedSlotRounds = 5;
constexpr Duration kExtraAckedSlotTime = milliseconds(50);
constexpr Duration kExtraAckedMax = milliseconds(100);

std::uint64_t scale(std::uint64_t bytes, double factor) noexcept {
  return static_cast<std::uint64_t>(static_cast<double>(bytes) * factor);
}

}  // namespace

std::string_view to_string(BbrState state) noexcept {
  switch (state) {
    case BbrState::startup:
      return "startup";
    case BbrState::drain:
      return "drain";
    case BbrState::probe_bw:
      return "probe_bw";
    case BbrState::probe_rtt:
      return "probe_rtt";
  }
  return "unknown";
}

void MaxBandwidthFilter::update(std::uint64_t round, Bandwidth sample) noexcept {
  if (empty_ || round != round_) {
    if (!empty_) index_ = (index_ + 1) % kRounds;
    slots_[index_] = 0;
    round_ = round;
    empty_ = false;
  }
  slots_[index_] = std::max(slots_[index_], sample);
  best_ = *std::max_element(slots_.begin(), slots_.end());
}

BbrController::BbrController(const CongestionConfig& config)
    : mss_(config.max_datagram_size),
      minimum_window_packets_(config.minimum_window_packets),
      minimum_window_(config.minimum_window_packets * config.max_datagram_size),
      initial_window_(config.initial_window_packets * config.max_datagram_size),
      pacing_gain_(kStartupPacingGain),
      cwnd_gain_(kStartupCwndGain),
      window_(std::max(initial_window_, minimum_window_)),
      initial_rtt_(kDefaultInitialRtt),
      inflight_hi_growth_(config.max_datagram_size) {
  if (config.max_datagram_size == 0) {
    throw std::invalid_argument("bbr controller: max_datagram_size must be > 0");
  }
  update_pacing_rate();
}

void BbrController::on_datagram_size(std::uint64_t bytes) noexcept {
  if (bytes == 0) return;
  mss_ = bytes;
  minimum_window_ = minimum_window_packets_ * bytes;
  inflight_hi_growth_ = std::max(inflight_hi_growth_, bytes);
}

std::uint64_t BbrController::send_quantum() const noexcept {
  const std::uint64_t floor = 2 * mss_;
  return std::clamp(bytes_in(pacing_rate_, milliseconds(1)), floor,
                    std::max(Pacer::kMaxQuantum, floor));
}

std::uint64_t BbrController::bdp() const noexcept {
  if (max_bw_.best() == 0 || min_rtt_ == Duration::max()) return initial_window_;
  return bytes_in(max_bw_.best(), min_rtt_);
}

std::uint64_t BbrController::inflight_for(double gain) const noexcept {
  return scale(bdp(), gain) + 3 * send_quantum();
}

void BbrController::on_packet_sent(Instant now, std::uint64_t bytes,
                                   std::uint64_t bytes_in_flight) noexcept {
  round_max_inflight_ = std::max(round_max_inflight_, bytes_in_flight);
  if (bytes_in_flight + mss_ > congestion_window()) round_window_limited_ = true;
  if (last_send_stamped_) {
    round_pacing_budget_ += static_cast<double>(bytes_in(pacing_rate_, now - last_send_));
  }
  last_send_ = now;
  last_send_stamped_ = true;
  round_sent_bytes_ += bytes;
}

void BbrController::on_ack(const AckEvent& ack) noexcept {
  const RateSample& rate = ack.rate;
  if (rate.delivered > 0) {
    delivered_ = std::max(delivered_, rate.prior_delivered + rate.delivered);
  } else {
    delivered_ += ack.acked_bytes;
  }
  if (ack.rtt != nullptr && max_bw_.best() == 0) initial_rtt_ = ack.rtt->smoothed();

  round_start_ = false;
  if (rate.delivered > 0 && rate.prior_delivered >= next_round_delivered_) start_round(ack);
  round_max_rtt_ = std::max(round_max_rtt_, rate.rtt);
  if (rate.rtt > Duration::zero()) {
    round_min_rtt_ = std::min(round_min_rtt_, rate.rtt);
    if (round_rtt_samples_ < kRoundOpeningSamples) {
      round_opening_min_rtt_ = std::min(round_opening_min_rtt_, rate.rtt);
      ++round_rtt_samples_;
    }
  }

  if (rate.delivery_rate > 0) {
    const bool limited = rate.is_app_limited || sender_limited_;
    last_sample_app_limited_ = limited;
    // An app-limited sample only says the path can do at least this much.
    if (!limited || rate.delivery_rate >= max_bw_.best()) {
      max_bw_.update(round_count_, rate.delivery_rate);
    }
  }

  check_startup_done();
  if (state_ == BbrState::drain && ack.bytes_in_flight <= inflight_for(1.0)) {
    enter_probe_bw(ack.now, 2 + round_count_ % 6);
  }
  if (state_ == BbrState::probe_bw) advance_probe_bw_phase(ack);
  update_min_rtt(ack);
  if (state_ == BbrState::probe_rtt) handle_probe_rtt(ack);

  update_ack_aggregation(ack);
  update_pacing_rate();
  update_window(ack);
}

void BbrController::update_ack_aggregation(const AckEvent& ack) noexcept {
  if (ack.acked_bytes == 0) return;
  if (round_start_) ++extra_acked_slot_rounds_;
  // A slot lasts five rounds, and never less than kExtraAckedSlotTime: on a path of a few
  // microseconds five rounds pass long before the next burst, which comes from the hosts'
  // scheduling (a time slice is milliseconds), not from the path.
  if (extra_acked_slot_rounds_ >= kExtraAckedSlotRounds &&
      ack.now - extra_acked_slot_start_ >= kExtraAckedSlotTime) {
    extra_acked_slot_rounds_ = 0;
    extra_acked_slot_start_ = ack.now;
    extra_acked_slot_ = 1 - extra_acked_slot_;
    extra_acked_slots_[extra_acked_slot_] = 0;
  }
  // What the model says should have arrived since the epoch began; an ACK stream at or
  // below that rate starts a new epoch.
  std::uint64_t expected =
      ack_epoch_started_ ? bytes_in(max_bw_.best(), ack.now - ack_epoch_start_) : 0;
  if (!ack_epoch_started_ || ack_epoch_acked_ <= expected) {
    ack_epoch_start_ = ack.now;
    ack_epoch_acked_ = 0;
    ack_epoch_started_ = true;
    expected = 0;
  }
  ack_epoch_acked_ += ack.acked_bytes;
  const std::uint64_t extra = std::min(ack_epoch_acked_ - expected, congestion_window());
  extra_acked_slots_[extra_acked_slot_] = std::max(extra_acked_slots_[extra_acked_slot_], extra);
}

std::uint64_t BbrController::extra_acked() const noexcept {
  return std::max(extra_acked_slots_[0], extra_acked_slots_[1]);
}

void BbrController::start_round(const AckEvent& ack) noexcept {
  end_round_loss_check();
  // The first packet of a round is sent before any budget accrues: leave it out.
  sender_limited_ =
      !round_window_limited_ && round_pacing_budget_ > 2.0 * static_cast<double>(mss_) &&
      static_cast<double>(round_sent_bytes_) < kSenderLimitedShare * round_pacing_budget_;
  round_window_limited_ = false;
  round_pacing_budget_ = 0.0;
  round_sent_bytes_ = 0;
  next_round_delivered_ = delivered_;
  ++round_count_;
  round_start_ = true;
  round_delivered_start_ = delivered_;
  round_lost_bytes_ = 0;
  round_lost_packets_ = 0;
  round_max_inflight_ = ack.bytes_in_flight;
  round_max_rtt_ = Duration::zero();
  standing_queue_ = round_min_rtt_ != Duration::max() && min_rtt_ != Duration::max() &&
                    round_min_rtt_ > min_rtt_ + standing_queue_margin();
  round_min_rtt_ = Duration::max();
  round_opening_min_rtt_ = Duration::max();
  round_rtt_samples_ = 0;
}

bool BbrController::above_min_rtt(Duration sample, Duration floor) const noexcept {
  if (min_rtt_ == Duration::max() || sample == Duration::max()) return false;
  const auto margin = std::clamp(std::chrono::duration_cast<Duration>(min_rtt_ / 8), floor,
                                 Duration{kStartupQueueCap});
  return sample > min_rtt_ + margin;
}

bool BbrController::round_opens_on_queue() const noexcept {
  return above_min_rtt(round_opening_min_rtt_, kStartupQueueFloor);
}

bool BbrController::startup_queue_seen(const AckEvent& ack) const noexcept {
  return ack.rate.rtt > Duration::zero() && above_min_rtt(ack.rate.rtt, kStandingQueueFloor);
}

bool BbrController::round_saw_queue() const noexcept {
  if (min_rtt_ == Duration::max()) return true;  // no model yet: take loss at its word
  const auto margin = std::max(std::chrono::duration_cast<Duration>(min_rtt_ * kQueueRttFraction),
                               Duration{kQueueRttFloor});
  return round_max_rtt_ >= min_rtt_ + margin;
}

void BbrController::end_round_loss_check() noexcept {
  const std::uint64_t delivered = delivered_ - round_delivered_start_;
  const std::uint64_t lost = round_lost_bytes_;
  const double loss_rate =
      lost > 0 ? static_cast<double>(lost) / static_cast<double>(delivered + lost) : 0.0;
  const bool over_threshold =
      loss_rate > kLossThreshold && (loss_rate > kPolicerLossThreshold || round_saw_queue());

  if (state_ == BbrState::startup) {
    if (over_threshold && round_lost_packets_ >= kStartupLossPackets) {
      // The queue overflowed before the bandwidth stopped growing: the flight that did
      // fit is the upper bound until probing shows more.
      full_bw_reached_ = true;
      inflight_hi_ = std::max(bdp(), delivered);
      enter_drain();
    }
    return;
  }

  if (over_threshold && round_lost_packets_ >= kProbeBwLossPackets) {
    saved_inflight_hi_ = inflight_hi_;
    saved_inflight_lo_ = inflight_lo_;
    can_undo_ = true;
    // The flight that overflowed is the most the path holds; never cut below beta x BDP.
    inflight_hi_ = std::max(round_max_inflight_, scale(inflight_for(1.0), kBeta));
    const std::uint64_t lo_base = inflight_lo_ == kUnbounded ? window_ : inflight_lo_;
    inflight_lo_ = std::max(delivered, scale(lo_base, kBeta));
    inflight_hi_growth_ = mss_;
    return;
  }

  // A round without excessive loss that was held back by inflight_hi: raise the bound,
  // doubling the step each such round so a bound set by a burst of bad luck recovers fast.
  if (state_ == BbrState::probe_bw && inflight_hi_ != kUnbounded) {
    const bool probing = cycle_index_ == kProbeUpPhase;
    const std::uint64_t cap = probing ? inflight_hi_ : scale(inflight_hi_, 1.0 - kHeadroom);
    if (round_max_inflight_ + 2 * mss_ >= cap) {
      inflight_hi_ += inflight_hi_growth_;
      inflight_hi_growth_ = std::min(2 * inflight_hi_growth_, inflight_hi_);
    }
  }
}

void BbrController::check_startup_done() noexcept {
  if (state_ != BbrState::startup || full_bw_reached_) return;
  if (last_sample_app_limited_) return;
  const Bandwidth bw = max_bw_.best();
  if (!round_start_) {
    // A round's first ACKs answer packets the last round sent: when they all come late, that
    // round's flight already overfilled the pipe. Waiting for the round to end (its ACKs take
    // as long as the queue grew) lets the flight double once more: on a 600 ms path with a
    // one-BDP buffer, 1.5 s more of a full queue and over a hundred drops.
    if (round_rtt_samples_ == kRoundOpeningSamples && round_opens_on_queue() &&
        static_cast<double>(bw) < kFullBwGrowth * static_cast<double>(full_bw_)) {
      full_bw_reached_ = true;
      enter_drain();
    }
    return;
  }
  // A round that did not grow the estimate by a quarter and ran over a queue all along (not
  // one RTT sample near the min): the bottleneck is busy, so the estimate is its rate.
  // Waiting for two more such rounds lets the flight grow on, ~3x past what fits: on a
  // 600 ms, 1-BDP-buffer path that meant 600 ms of queue and over a thousand drops. The
  // growth test keeps a delay that is not ours (a stalled host, a competing flow's queue)
  // from ending Startup while the rate still climbs.
  if (standing_queue_ && static_cast<double>(bw) < kFullBwGrowth * static_cast<double>(full_bw_)) {
    full_bw_reached_ = true;
    enter_drain();
    return;
  }
  if (static_cast<double>(bw) >= kFullBwGrowth * static_cast<double>(full_bw_)) {
    full_bw_ = bw;
    full_bw_count_ = 0;
    return;
  }
  if (++full_bw_count_ >= kFullBwRounds) {
    full_bw_reached_ = true;
    enter_drain();
  }
}

void BbrController::enter_drain() noexcept {
  state_ = BbrState::drain;
  pacing_gain_ = kDrainPacingGain;
  cwnd_gain_ = kStartupCwndGain;
}

void BbrController::enter_probe_bw(Instant now, std::size_t phase) noexcept {
  state_ = BbrState::probe_bw;
  cwnd_gain_ = kProbeBwCwndGain;
  cycle_index_ = phase % kProbeBwGains.size();
  pacing_gain_ = kProbeBwGains[cycle_index_];
  cycle_stamp_ = now;
  loss_in_phase_ = false;
  if (cycle_index_ == kProbeUpPhase) {
    // Probing starts from what the path holds now, not from what a past loss allowed.
    inflight_lo_ = kUnbounded;
    can_undo_ = false;
  }
}

void BbrController::advance_probe_bw_phase(const AckEvent& ack) noexcept {
  const Duration elapsed = ack.now - cycle_stamp_;
  const bool full_length = elapsed > min_rtt_;
  const std::uint64_t prior_inflight = ack.bytes_in_flight + ack.acked_bytes;
  bool advance = full_length;
  if (pacing_gain_ > 1.0) {
    // Probe until the extra flight is really out, or loss says there is no room; a
    // flight held down by the application or a bound cannot stall the cycle.
    advance = full_length && (loss_in_phase_ || prior_inflight >= inflight_for(pacing_gain_) ||
                              elapsed > 3 * min_rtt_);
  } else if (pacing_gain_ < 1.0) {
    advance = full_length || prior_inflight <= inflight_for(1.0);
  }
  if (advance) enter_probe_bw(ack.now, cycle_index_ + 1);
}

void BbrController::update_min_rtt(const AckEvent& ack) noexcept {
  Duration sample = ack.rate.rtt;
  if (sample <= Duration::zero() && ack.rtt != nullptr && ack.rtt->has_sample()) {
    sample = ack.rtt->latest();
  }
  if (sample <= Duration::zero()) return;
  const bool expired = min_rtt_ != Duration::max() && ack.now > min_rtt_stamp_ + kMinRttWindow;
  if (sample <= min_rtt_ || expired) {
    min_rtt_ = sample;
    min_rtt_stamp_ = ack.now;
  } else if (sample <= min_rtt_ + min_rtt_confirm_tolerance()) {
    min_rtt_stamp_ = ack.now;
  }
  if (expired && state_ != BbrState::probe_rtt) enter_probe_rtt();
}

void BbrController::enter_probe_rtt() noexcept {
  state_ = BbrState::probe_rtt;
  pacing_gain_ = 1.0;
  cwnd_gain_ = 1.0;
  probe_rtt_done_stamp_set_ = false;
  probe_rtt_round_done_ = false;
}

Duration BbrController::standing_queue_margin() const noexcept {
  return std::max(std::chrono::duration_cast<Duration>(min_rtt_ * kStandingQueueFraction),
                  Duration{kStandingQueueFloor});
}

Duration BbrController::min_rtt_confirm_tolerance() const noexcept {
  return std::max(std::chrono::duration_cast<Duration>(min_rtt_ * kMinRttConfirmFraction),
                  Duration{kMinRttConfirmFloor});
}

std::uint64_t BbrController::probe_rtt_window() const noexcept {
  return std::max({scale(bdp(), kProbeRttCwndGain), kProbeRttMinPackets * mss_, minimum_window_});
}

void BbrController::handle_probe_rtt(const AckEvent& ack) noexcept {
  const std::uint64_t probe_window = probe_rtt_window();
  if (!probe_rtt_done_stamp_set_) {
    if (ack.bytes_in_flight > probe_window) return;
    // The queue is gone: hold the small flight for 200 ms and at least one round trip so
    // the path's propagation delay shows up in a sample.
    probe_rtt_done_stamp_ = ack.now + kProbeRttDuration;
    probe_rtt_done_stamp_set_ = true;
    probe_rtt_round_done_ = false;
    next_round_delivered_ = delivered_;
    return;
  }
  if (round_start_) probe_rtt_round_done_ = true;
  if (!probe_rtt_round_done_ || ack.now < probe_rtt_done_stamp_) return;
  min_rtt_stamp_ = ack.now;
  if (full_bw_reached_) {
    enter_probe_bw(ack.now, kProbeUpPhase);
  } else {
    state_ = BbrState::startup;
    pacing_gain_ = kStartupPacingGain;
    cwnd_gain_ = kStartupCwndGain;
  }
}

void BbrController::update_pacing_rate() noexcept {
  const Bandwidth bw = max_bw_.best();
  if (bw == 0) {
    // No sample yet: the initial window over the initial RTT, at Startup's gain.
    const auto initial = static_cast<double>(rate_of(initial_window_, initial_rtt_));
    pacing_rate_ = static_cast<Bandwidth>(kStartupPacingGain * initial);
    return;
  }
  double gain = pacing_gain_;
  if (state_ == BbrState::probe_bw && gain == 1.0 && standing_queue_) gain = kStandingQueueGain;
  const auto rate = static_cast<Bandwidth>(gain * kPacingMargin * static_cast<double>(bw));
  // In Startup the rate only rises: an early low sample must not slow the search.
  if (full_bw_reached_ || rate > pacing_rate_) pacing_rate_ = rate;
}

void BbrController::update_window(const AckEvent& ack) noexcept {
  std::uint64_t target = inflight_for(cwnd_gain_);
  // Room for ACKs that come in bursts, once the bandwidth estimate means something.
  if (full_bw_reached_) {
    target += std::min(extra_acked(), bytes_in(max_bw_.best(), kExtraAckedMax));
  }
  if (full_bw_reached_) {
    window_ = std::min(window_ + ack.acked_bytes, target);
  } else if (!startup_queue_seen(ack) &&
             (!ack.rate.is_app_limited || window_ < target || delivered_ < initial_window_)) {
    // Startup grows by what is acknowledged, doubling the flight each round as slow start
    // does, not up to cwnd_gain x the estimate: the estimate trails the flight by a round,
    // which held the growth to ~1.7x a round (a 600 ms path took 1.5 s longer to fill).
    // An ACK that comes back over a queue stops the growth at once, before the round that
    // built the queue doubles past what the buffer holds. A flight the application held
    // back earns no more than the estimate allows: its ACKs say nothing of the path. The
    // first window's ACKs are app-limited by construction (nothing was queued before the
    // handshake) and grow it as before.
    window_ += ack.acked_bytes;
  }
  window_ = std::max(window_, minimum_window_);
  if (recovery_window_ != kUnbounded) {
    recovery_window_ += ack.acked_bytes;
    if (recovery_window_ >= window_) recovery_window_ = kUnbounded;
  }
}

std::uint64_t BbrController::congestion_window() const noexcept {
  std::uint64_t window = window_;
  if (state_ == BbrState::probe_rtt) {
    window = std::min(window, probe_rtt_window());
  }
  std::uint64_t cap = inflight_hi_;
  if (cap != kUnbounded && state_ == BbrState::probe_bw && cycle_index_ != kProbeUpPhase) {
    cap = scale(cap, 1.0 - kHeadroom);
  }
  cap = std::min({cap, inflight_lo_, recovery_window_});
  return std::max(std::min(window, cap), minimum_window_);
}

void BbrController::on_loss(const LossEvent& loss) noexcept {
  round_lost_bytes_ += loss.lost_bytes;
  round_lost_packets_ += std::max<std::uint64_t>(1, (loss.lost_bytes + mss_ - 1) / mss_);
  loss_in_phase_ = true;
  if (loss.persistent_congestion) {
    // Every packet over several PTOs was lost: the model may be stale, so restart the
    // flight from the minimum and let it double each round back up to the model.
    recovery_window_ = minimum_window_;
  }
}

void BbrController::on_spurious_loss(Instant now) noexcept {
  (void)now;
  recovery_window_ = kUnbounded;
  if (!can_undo_) return;
  inflight_hi_ = saved_inflight_hi_;
  inflight_lo_ = saved_inflight_lo_;
  can_undo_ = false;
}

}  // namespace dwcp::transport
