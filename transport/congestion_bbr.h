// BBR congestion control (draft-ietf-ccwg-bbr; BBRv2's loss bounds): dwcp's default on
// WAN paths, where random loss is common and does not mean the bottleneck is full.
//
// The controller keeps a model of the path, the bottleneck bandwidth (windowed maximum of
// delivery-rate samples over ~10 round trips) and the round-trip propagation delay
// (windowed minimum over 10 s), and paces at gain x bandwidth with a window of
// cwnd_gain x BDP. Loss bounds the flight (inflight_hi, inflight_lo) only in a round whose
// loss rate exceeds 2% and whose RTT shows a queue (or whose loss rate exceeds 15%); other
// loss is treated as noise, which is what keeps the rate up on lossy long paths.
//
// States: Startup (pacing gain 2.77, the window growing by what is acknowledged while ACKs
// show no queue, until the bandwidth stops growing by 25% for three rounds, or a whole
// round's RTT samples or a round's first eight show a queue, or loss is excessive) -> Drain
// (empty the queue Startup built) -> ProbeBW (the eight-phase gain cycle 1.25, 0.75, 1 x 6,
// one phase per min RTT) <-> ProbeRTT (window of half the BDP for 200 ms and a round, once no
// sample within 1/16 of the min RTT has come for 10 s).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "transport/congestion_controller.h"

namespace dwcp::transport {

enum class BbrState : std::uint8_t { startup, drain, probe_bw, probe_rtt };
std::string_view to_string(BbrState state) noexcept;

// Windowed maximum of bandwidth samples over the last kRounds rounds that produced one.
// Rounds without an eligible sample (app-limited stretches) do not age the estimate.
class MaxBandwidthFilter {
 public:
  static constexpr std::size_t kRounds = 10;

  void update(std::uint64_t round, Bandwidth sample) noexcept;
  [[nodiscard]] Bandwidth best() const noexcept { return best_; }

 private:
  std::array<Bandwidth, kRounds> slots_{};
  std::size_t index_ = 0;
  std::uint64_t round_ = 0;
  bool empty_ = true;
  Bandwidth best_ = 0;
};

class BbrController final : public CongestionController {
 public:
  // Throws std::invalid_argument for a zero max_datagram_size.
  explicit BbrController(const CongestionConfig& config);

  [[nodiscard]] CongestionAlgorithm algorithm() const noexcept override {
    return CongestionAlgorithm::bbr;
  }
  void on_packet_sent(Instant now, std::uint64_t bytes,
                      std::uint64_t bytes_in_flight) noexcept override;
  // Round trips are counted with ack.rate.prior_delivered against the connection's
  // delivered count (prior_delivered + delivered) when the round began.
  void on_ack(const AckEvent& ack) noexcept override;
  void on_loss(const LossEvent& loss) noexcept override;
  // Puts back the loss bounds set by the last loss response.
  void on_spurious_loss(Instant now) noexcept override;
  void on_datagram_size(std::uint64_t bytes) noexcept override;

  [[nodiscard]] std::uint64_t congestion_window() const noexcept override;
  [[nodiscard]] Bandwidth pacing_rate() const noexcept override { return pacing_rate_; }

  // The model, for tests and statistics.
  [[nodiscard]] BbrState state() const noexcept { return state_; }
  [[nodiscard]] Bandwidth max_bandwidth() const noexcept { return max_bw_.best(); }
  // Duration::max() before the first sample.
  [[nodiscard]] Duration min_rtt() const noexcept { return min_rtt_; }
  // When min_rtt() was last confirmed; ProbeRTT starts kMinRttWindow after it.
  [[nodiscard]] Instant min_rtt_timestamp() const noexcept { return min_rtt_stamp_; }
  static constexpr Duration kMinRttWindow = std::chrono::seconds(10);
  [[nodiscard]] std::uint64_t round_count() const noexcept { return round_count_; }
  [[nodiscard]] bool full_bandwidth_reached() const noexcept { return full_bw_reached_; }
  static constexpr std::uint64_t kUnbounded = std::numeric_limits<std::uint64_t>::max();
  [[nodiscard]] std::uint64_t inflight_hi() const noexcept { return inflight_hi_; }
  [[nodiscard]] std::uint64_t inflight_lo() const noexcept { return inflight_lo_; }
  // Data acknowledged beyond what the bandwidth estimate explains (ACK aggregation: a
  // receiver that acknowledges in bursts, after a sleep or a descheduled spell), windowed
  // maximum over about ten rounds and at least 50 ms; the window keeps this much extra room
  // so the sender does not stall between bursts (draft-ietf-ccwg-bbr §5.5.9, Linux's
  // extra_acked).
  [[nodiscard]] std::uint64_t extra_acked() const noexcept;
  // The last round's sending fell short of the pacing rate with window and data to spare.
  [[nodiscard]] bool sender_limited() const noexcept { return sender_limited_; }

 private:
  void start_round(const AckEvent& ack) noexcept;
  void end_round_loss_check() noexcept;
  // An RTT sample of this round stood well above the min RTT: a queue had built.
  [[nodiscard]] bool round_saw_queue() const noexcept;
  // `sample` stood above the min RTT by an eighth of it, clamped to [floor, 16 ms]; false
  // before the first sample (Duration::max()).
  [[nodiscard]] bool above_min_rtt(Duration sample, Duration floor) const noexcept;
  // The first RTT samples of this round all stood above the min RTT (see kRoundOpeningSamples).
  [[nodiscard]] bool round_opens_on_queue() const noexcept;
  // This ACK's RTT sample stood above the min RTT by an eighth of it (1-16 ms).
  [[nodiscard]] bool startup_queue_seen(const AckEvent& ack) const noexcept;
  void update_min_rtt(const AckEvent& ack) noexcept;
  void check_startup_done() noexcept;
  void enter_drain() noexcept;
  void enter_probe_bw(Instant now, std::size_t phase) noexcept;
  void advance_probe_bw_phase(const AckEvent& ack) noexcept;
  void enter_probe_rtt() noexcept;
  [[nodiscard]] Duration min_rtt_confirm_tolerance() const noexcept;
  [[nodiscard]] Duration standing_queue_margin() const noexcept;
  [[nodiscard]] std::uint64_t probe_rtt_window() const noexcept;
  void handle_probe_rtt(const AckEvent& ack) noexcept;
  void update_pacing_rate() noexcept;
  void update_window(const AckEvent& ack) noexcept;
  void update_ack_aggregation(const AckEvent& ack) noexcept;
  // Bytes in flight that fill the pipe at `gain` x the model, plus pacing quanta.
  [[nodiscard]] std::uint64_t inflight_for(double gain) const noexcept;
  [[nodiscard]] std::uint64_t bdp() const noexcept;
  [[nodiscard]] std::uint64_t send_quantum() const noexcept;

  std::uint64_t mss_;
  std::uint64_t minimum_window_packets_;
  std::uint64_t minimum_window_;
  std::uint64_t initial_window_;

  BbrState state_ = BbrState::startup;
  double pacing_gain_;
  double cwnd_gain_;
  Bandwidth pacing_rate_ = 0;
  std::uint64_t window_;  // from the model, before the bounds below apply

  // Round trips.
  std::uint64_t round_count_ = 0;
  std::uint64_t next_round_delivered_ = 0;
  bool round_start_ = false;
  std::uint64_t delivered_ = 0;

  MaxBandwidthFilter max_bw_;
  Duration min_rtt_ = Duration::max();
  Instant min_rtt_stamp_;
  Duration initial_rtt_;

  // Startup's exit test.
  Bandwidth full_bw_ = 0;
  std::uint64_t full_bw_count_ = 0;
  bool full_bw_reached_ = false;
  bool last_sample_app_limited_ = false;

  // ACK aggregation: the current epoch and a max filter of two five-round slots.
  Instant ack_epoch_start_;
  std::uint64_t ack_epoch_acked_ = 0;
  bool ack_epoch_started_ = false;
  std::array<std::uint64_t, 2> extra_acked_slots_{};
  std::size_t extra_acked_slot_ = 0;
  std::uint64_t extra_acked_slot_rounds_ = 0;
  Instant extra_acked_slot_start_;

  // ProbeBW.
  std::size_t cycle_index_ = 0;
  Instant cycle_stamp_;
  bool loss_in_phase_ = false;

  // ProbeRTT.
  bool probe_rtt_done_stamp_set_ = false;
  Instant probe_rtt_done_stamp_;
  bool probe_rtt_round_done_ = false;

  // Loss accounting for the current round and the bounds it may set.
  std::uint64_t round_delivered_start_ = 0;
  std::uint64_t round_lost_bytes_ = 0;
  std::uint64_t round_lost_packets_ = 0;
  std::uint64_t round_max_inflight_ = 0;
  Duration round_max_rtt_{};
  Duration round_min_rtt_ = Duration::max();
  Duration round_opening_min_rtt_ = Duration::max();
  std::uint64_t round_rtt_samples_ = 0;
  bool standing_queue_ = false;  // the last round's RTT never came near the min RTT
  // Whether the sender kept up with its pacing rate this round (see kSenderLimitedShare).
  Instant last_send_;
  bool last_send_stamped_ = false;
  double round_pacing_budget_ = 0.0;  // bytes the pacing rate allowed since the round began
  std::uint64_t round_sent_bytes_ = 0;
  bool round_window_limited_ = false;
  bool sender_limited_ = false;  // the last round fell short: this round's samples are limited
  std::uint64_t inflight_hi_ = kUnbounded;
  std::uint64_t inflight_lo_ = kUnbounded;
  std::uint64_t inflight_hi_growth_;
  std::uint64_t saved_inflight_hi_ = kUnbounded;
  std::uint64_t saved_inflight_lo_ = kUnbounded;
  bool can_undo_ = false;
  // After persistent congestion: a window that restarts at the minimum and doubles per
  // round until the model's window no longer needs it.
  std::uint64_t recovery_window_ = kUnbounded;
};

}  // namespace dwcp::transport
