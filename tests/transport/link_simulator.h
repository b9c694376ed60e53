// A deterministic single-bottleneck path for congestion-controller tests, in simulated
// time from kSimulatedEpoch. No sockets, no threads.
//
// The sender sends full-size datagrams whenever the controller's window, the pacer
// (transport/pacer.h) and the application allow. Each datagram enters a drop-tail queue
// in front of a link of `rate` bytes/s, then may be lost at random (seeded), then takes
// `one_way_delay` to the receiver, which acknowledges every datagram at once; the ACK
// takes `one_way_delay` back over an uncongested path. The sender keeps per-packet
// delivery state and builds RateSamples as draft-cheng-iccrg-delivery-rate-estimation
// describes. Losses are reported by the simulator itself, a little after the lost packet's
// ACK would have arrived (as a packet-threshold detector would notice three later ACKs),
// which keeps detection exact and deterministic.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <queue>
#include <random>
#include <utility>
#include <vector>

#include "transport/clock.h"
#include "transport/congestion_controller.h"
#include "transport/pacer.h"
#include "transport/rtt_estimator.h"

namespace dwcp::transport::test {

struct LinkConfig {
  Bandwidth rate = 12'500'000;  // 100 Mbit/s
  Duration one_way_delay = std::chrono::milliseconds(20);
  std::uint64_t queue_bytes = 500'000;
  double loss_probability = 0;
  std::uint64_t seed = 1;
  std::uint64_t max_datagram_size = 1472;
  // Each ACK comes up to this much late (uniform, seeded; ACKs stay in order), as timer
  // and scheduling noise makes real RTT samples wander above the path's delay.
  Duration ack_jitter = Duration::zero();
};

// Bytes in flight for `rate` over a round trip of 2 x `one_way_delay`.
inline std::uint64_t bdp_bytes(Bandwidth rate, Duration one_way_delay) {
  return bytes_in(rate, 2 * one_way_delay);
}

class LinkSimulator {
 public:
  LinkSimulator(CongestionController& controller, const LinkConfig& config)
      : controller_(controller),
        config_(config),
        rate_(config.rate),
        one_way_delay_(config.one_way_delay),
        now_(kSimulatedEpoch),
        pacer_(config.max_datagram_size, kSimulatedEpoch),
        random_(config.seed),
        link_free_(kSimulatedEpoch),
        delivered_time_(kSimulatedEpoch),
        first_sent_time_(kSimulatedEpoch) {
    pacer_.set_rate(host_rate(), now_);
  }

  // Changes apply to packets that reach the bottleneck from now on.
  void set_rate(Bandwidth rate) { rate_ = rate; }
  void set_one_way_delay(Duration delay) { one_way_delay_ = delay; }
  // 0: an unlimited backlog (bulk transfer); otherwise the application hands over data at
  // this many bytes per second.
  void set_application_rate(Bandwidth rate) {
    application_rate_ = rate;
    application_bytes_ = 0;
    application_stamp_ = now_;
  }
  // A host that keeps only this fraction of its pacing rate (a thread that loses its core
  // for part of the time): its packets leave at that share of the controller's rate.
  void set_sender_efficiency(double fraction) { sender_efficiency_ = fraction; }
  // Called after every ACK the controller has seen.
  void on_each_ack(std::function<void(const AckEvent&)> observer) {
    observer_ = std::move(observer);
  }

  void run_for(Duration duration) { run_until(now_ + duration); }

  void run_until(Instant end) {
    while (true) {
      send_what_is_allowed();
      Instant next = Instant::max();
      if (!events_.empty()) next = events_.top().time;
      if (const auto wake = next_send_wakeup()) next = std::min(next, *wake);
      if (next > end) {
        now_ = end;
        return;
      }
      now_ = std::max(now_, next);
      while (!events_.empty() && events_.top().time <= now_) {
        const Event event = events_.top();
        events_.pop();
        if (event.lost) {
          deliver_loss(event.packet_number);
        } else {
          deliver_ack(event.packet_number);
        }
      }
    }
  }

  [[nodiscard]] Instant now() const { return now_; }
  [[nodiscard]] std::uint64_t acked_bytes() const { return delivered_; }
  [[nodiscard]] std::uint64_t lost_packets() const { return lost_packets_; }
  [[nodiscard]] std::uint64_t sent_packets() const { return next_packet_number_; }
  [[nodiscard]] std::uint64_t bytes_in_flight() const { return bytes_in_flight_; }
  [[nodiscard]] const RttEstimator& rtt() const { return rtt_; }
  // RTT samples taken at or after `since`.
  [[nodiscard]] std::vector<Duration> rtt_samples_since(Instant since) const {
    std::vector<Duration> out;
    for (const auto& [at, rtt] : rtt_samples_) {
      if (at >= since) out.push_back(rtt);
    }
    return out;
  }

  // Fraction of the link's capacity the flow used while running for `duration`,
  // measured by acknowledged bytes.
  double run_and_measure_utilisation(Duration duration) {
    const std::uint64_t before = delivered_;
    const Bandwidth rate = rate_;
    run_for(duration);
    return static_cast<double>(delivered_ - before) / static_cast<double>(bytes_in(rate, duration));
  }

 private:
  struct SentPacket {
    std::uint64_t size = 0;
    Instant sent_time;
    std::uint64_t delivered = 0;
    Instant delivered_time;
    Instant first_sent_time;
    bool is_app_limited = false;
  };
  struct Event {
    Instant time;
    std::uint64_t sequence = 0;  // ties break in scheduling order
    std::uint64_t packet_number = 0;
    bool lost = false;
    bool operator>(const Event& other) const {
      return time != other.time ? time > other.time : sequence > other.sequence;
    }
  };

  [[nodiscard]] std::uint64_t mss() const { return config_.max_datagram_size; }
  [[nodiscard]] Bandwidth host_rate() const {
    return static_cast<Bandwidth>(static_cast<double>(controller_.pacing_rate()) *
                                  sender_efficiency_);
  }

  void refill_application() {
    if (application_rate_ == 0) return;
    application_bytes_ += bytes_in(application_rate_, now_ - application_stamp_);
    application_stamp_ = now_;
  }
  [[nodiscard]] bool has_data() const {
    return application_rate_ == 0 || application_bytes_ >= mss();
  }
  [[nodiscard]] bool window_allows() const {
    return bytes_in_flight_ + mss() <= controller_.congestion_window();
  }

  void send_what_is_allowed() {
    refill_application();
    while (window_allows()) {
      if (!has_data()) {
        // Nothing to send with the window open: samples from here on are app-limited.
        app_limited_until_ = std::max<std::uint64_t>(delivered_ + bytes_in_flight_, 1);
        return;
      }
      if (pacer_.budget(now_) < mss()) return;
      send_packet();
    }
  }

  [[nodiscard]] std::optional<Instant> next_send_wakeup() {
    if (!window_allows()) return std::nullopt;  // an ACK opens the window
    if (!has_data()) {
      const std::uint64_t missing = mss() - application_bytes_;
      return now_ + time_to_send(missing, application_rate_);
    }
    const Instant at = pacer_.next_send_time(now_, mss());
    return at > now_ ? at : now_ + Duration{1};
  }

  void send_packet() {
    const std::uint64_t size = mss();
    if (bytes_in_flight_ == 0) {
      first_sent_time_ = now_;
      delivered_time_ = now_;
    }
    SentPacket packet{
        size, now_, delivered_, delivered_time_, first_sent_time_, app_limited_until_ != 0};
    const std::uint64_t number = next_packet_number_++;
    packets_.push_back(packet);
    bytes_in_flight_ += size;
    if (application_rate_ != 0) application_bytes_ -= size;
    pacer_.on_sent(now_, size);
    controller_.on_packet_sent(now_, size, bytes_in_flight_);

    // The bottleneck: drop-tail on the bytes still waiting to be serialised.
    const Instant start = std::max(now_, link_free_);
    const std::uint64_t backlog = bytes_in(rate_, link_free_ - now_);
    const Instant departure = start + time_to_send(size, rate_);
    Instant would_be_ack = departure + 2 * one_way_delay_ + ack_jitter();
    if (config_.ack_jitter > Duration::zero()) {
      would_be_ack = std::max(would_be_ack, last_ack_time_);
      last_ack_time_ = would_be_ack;
    }
    bool lost = backlog + size > config_.queue_bytes;
    if (!lost) {
      link_free_ = departure;
      lost = random_loss();
    }
    // A lost packet is noticed when ACKs for packets sent after it would arrive.
    const Instant when = lost ? would_be_ack + 3 * time_to_send(size, rate_) : would_be_ack;
    events_.push(Event{when, next_sequence_++, number, lost});
  }

  Duration ack_jitter() {
    if (config_.ack_jitter <= Duration::zero()) return Duration::zero();
    const double draw = static_cast<double>(random_() >> 11) * 0x1.0p-53;
    return std::chrono::duration_cast<Duration>(config_.ack_jitter * draw);
  }

  bool random_loss() {
    if (config_.loss_probability <= 0) return false;
    // 53 random bits as a double in [0, 1): the same sequence on every platform.
    const double draw = static_cast<double>(random_() >> 11) * 0x1.0p-53;
    return draw < config_.loss_probability;
  }

  SentPacket& packet(std::uint64_t number) { return packets_[number - first_packet_number_]; }

  void forget_settled_packets() {
    while (!packets_.empty() && packets_.front().size == 0) {
      packets_.pop_front();
      ++first_packet_number_;
    }
  }

  void deliver_ack(std::uint64_t number) {
    SentPacket& p = packet(number);
    const std::uint64_t size = p.size;
    bytes_in_flight_ -= size;
    delivered_ += size;
    delivered_time_ = now_;

    const Duration latest = now_ - p.sent_time;
    rtt_.on_sample(latest, Duration::zero());
    rtt_samples_.emplace_back(now_, latest);

    RateSample rate;
    rate.prior_delivered = p.delivered;
    rate.is_app_limited = p.is_app_limited;
    rate.delivered = delivered_ - p.delivered;
    rate.rtt = latest;
    const Duration send_elapsed = p.sent_time - p.first_sent_time;
    const Duration ack_elapsed = delivered_time_ - p.delivered_time;
    first_sent_time_ = p.sent_time;
    rate.interval = std::max(send_elapsed, ack_elapsed);
    // Shorter than the min RTT: ACK compression, not a rate the path can sustain.
    if (rate.interval >= rtt_.min()) rate.delivery_rate = rate_of(rate.delivered, rate.interval);
    if (app_limited_until_ != 0 && delivered_ > app_limited_until_) app_limited_until_ = 0;

    AckEvent ack;
    ack.now = now_;
    ack.acked_bytes = size;
    ack.bytes_in_flight = bytes_in_flight_;
    ack.largest_acked_sent_time = p.sent_time;
    ack.rtt = &rtt_;
    ack.rate = rate;
    p.size = 0;
    forget_settled_packets();

    controller_.on_ack(ack);
    pacer_.set_rate(host_rate(), now_);
    if (observer_) observer_(ack);
  }

  void deliver_loss(std::uint64_t number) {
    SentPacket& p = packet(number);
    bytes_in_flight_ -= p.size;
    ++lost_packets_;
    LossEvent loss;
    loss.now = now_;
    loss.lost_bytes = p.size;
    loss.bytes_in_flight = bytes_in_flight_;
    loss.largest_lost_sent_time = p.sent_time;
    p.size = 0;
    forget_settled_packets();
    controller_.on_loss(loss);
    pacer_.set_rate(host_rate(), now_);
  }

  CongestionController& controller_;
  LinkConfig config_;
  Bandwidth rate_;
  Duration one_way_delay_;
  Instant last_ack_time_{};
  Instant now_;
  Pacer pacer_;
  RttEstimator rtt_;
  std::mt19937_64 random_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::uint64_t next_sequence_ = 0;
  Instant link_free_;

  std::deque<SentPacket> packets_;
  std::uint64_t first_packet_number_ = 0;
  std::uint64_t next_packet_number_ = 0;
  std::uint64_t bytes_in_flight_ = 0;
  std::uint64_t lost_packets_ = 0;

  // Delivery-rate state (the draft's C.delivered, C.delivered_time, C.first_sent_time,
  // C.app_limited).
  std::uint64_t delivered_ = 0;
  Instant delivered_time_;
  Instant first_sent_time_;
  std::uint64_t app_limited_until_ = 0;

  Bandwidth application_rate_ = 0;
  double sender_efficiency_ = 1.0;
  std::uint64_t application_bytes_ = 0;
  Instant application_stamp_{kSimulatedEpoch};

  std::vector<std::pair<Instant, Duration>> rtt_samples_;
  std::function<void(const AckEvent&)> observer_;
};

}  // namespace dwcp::transport::test
