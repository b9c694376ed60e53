// Traffic for the WAN lab tests (tests/wanlab/lab_test.sh): UDP ping-pong, a paced UDP
// blaster and a counting sink, and a TCP sender and sink, each printing key=value lines.
//
//   wanlab_probe udp-echo PORT SECONDS
//   wanlab_probe udp-ping HOST PORT COUNT INTERVAL_MS
//   wanlab_probe udp-blast HOST PORT COUNT SIZE RATE_PPS      (RATE_PPS 0: flat out)
//   wanlab_probe udp-sink PORT IDLE_MS MAX_SECONDS
//   wanlab_probe tcp-send HOST PORT BYTES
//   wanlab_probe tcp-sink PORT MAX_SECONDS OMIT_MS
//
// Every run is bounded in time. Datagrams carry a sequence number and a payload computed
// from it, so the sink checks each byte, counts losses, duplicates and late (overtaken)
// datagrams, and prints a hash over the payloads in sequence order that equals the
// blaster's. TCP carries a generated stream; both ends print its length and hash.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "wanlab_probe: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27U)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31U);
}

struct Fnv {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  void add(const std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  }
  void add_u64(std::uint64_t v) {
    std::array<std::uint8_t, 8> b{};
    std::memcpy(b.data(), &v, 8);
    add(b.data(), b.size());
  }
};

// Datagram: 8-byte sequence number, then bytes from splitmix(seq, offset).
void fill_datagram(std::uint8_t* p, std::size_t size, std::uint64_t seq) {
  std::memcpy(p, &seq, 8);
  for (std::size_t i = 8; i < size; i += 8) {
    const std::uint64_t word = splitmix(seq * 4096 + i);
    std::memcpy(p + i, &word, std::min<std::size_t>(8, size - i));
  }
}

// TCP stream byte at offset: one generated word per 8 bytes.
void fill_stream(std::uint8_t* p, std::size_t n, std::uint64_t offset) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t at = offset + i;
    p[i] = static_cast<std::uint8_t>(splitmix(at / 8) >> ((at % 8) * 8));
  }
}

sockaddr_in address(const char* host, const char* port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::atoi(port)));
  if (host == nullptr) {
    a.sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    std::fprintf(stderr, "wanlab_probe: bad address %s\n", host);
    std::exit(2);
  }
  return a;
}

int udp_socket() {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) fail("socket");
  const int buffer = 32 * 1024 * 1024;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  }
  return fd;
}

void bind_to(int fd, const char* port) {
  const int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const sockaddr_in a = address(nullptr, port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) fail("bind");
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) > 0;
}

int udp_echo(char** argv) {
  const int fd = udp_socket();
  bind_to(fd, argv[0]);
  const auto start = Clock::now();
  const double limit = std::atof(argv[1]);
  std::array<std::uint8_t, 2048> buf{};
  long echoed = 0;
  while (seconds_since(start) < limit) {
    if (!readable(fd, 100)) continue;
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n =
        recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) continue;
    (void)sendto(fd, buf.data(), static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from),
                 len);
    ++echoed;
  }
  std::printf("echoed=%ld\n", echoed);
  return 0;
}

int udp_ping(char** argv) {
  const int fd = udp_socket();
  const sockaddr_in to = address(argv[0], argv[1]);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) fail("connect");
  const int count = std::atoi(argv[2]);
  const int interval_ms = std::atoi(argv[3]);
  std::vector<double> rtts;
  int lost = 0;
  for (std::uint64_t seq = 0; seq < static_cast<std::uint64_t>(count); ++seq) {
    std::array<std::uint8_t, 64> out{};
    std::memcpy(out.data(), &seq, 8);
    const auto sent = Clock::now();
    if (send(fd, out.data(), out.size(), 0) < 0) fail("send");
    bool answered = false;
    while (!answered && seconds_since(sent) < 2.0) {
      if (!readable(fd, 100)) continue;
      std::array<std::uint8_t, 64> in{};
      if (recv(fd, in.data(), in.size(), 0) == 64 && std::memcmp(in.data(), &seq, 8) == 0) {
        rtts.push_back(seconds_since(sent) * 1e6);
        answered = true;
      }
    }
    if (!answered) ++lost;
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  if (rtts.empty()) {
    std::printf("lost=%d\n", lost);
    return 1;
  }
  std::sort(rtts.begin(), rtts.end());
  double sum = 0;
  for (const double r : rtts) sum += r;
  std::printf("rtt_min_us=%.1f\nrtt_median_us=%.1f\nrtt_mean_us=%.1f\nrtt_max_us=%.1f\nlost=%d\n",
              rtts.front(), rtts[rtts.size() / 2], sum / static_cast<double>(rtts.size()),
              rtts.back(), lost);
  return 0;
}

int udp_blast(char** argv) {
  const int fd = udp_socket();
  const sockaddr_in to = address(argv[0], argv[1]);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) fail("connect");
  const std::uint64_t count = std::strtoull(argv[2], nullptr, 10);
  const std::size_t size = std::clamp<std::size_t>(std::strtoull(argv[3], nullptr, 10), 16, 1472);
  const double rate = std::atof(argv[4]);
  constexpr std::size_t kBatch = 32;
  std::vector<std::uint8_t> bufs(kBatch * size);
  std::array<iovec, kBatch> iov{};
  std::array<mmsghdr, kBatch> msgs{};
  Fnv hash;
  const auto start = Clock::now();
  std::uint64_t seq = 0;
  while (seq < count) {
    if (rate > 0) {  // pace by batch: hold until this batch is due
      const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(seq) / rate));
      while (Clock::now() < due) {
        if (due - Clock::now() > std::chrono::microseconds(200)) {
          std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
      }
    }
    const std::size_t n = std::min<std::uint64_t>(kBatch, count - seq);
    for (std::size_t i = 0; i < n; ++i) {
      std::uint8_t* p = bufs.data() + i * size;
      fill_datagram(p, size, seq + i);
      Fnv one;
      one.add(p, size);
      hash.add_u64(one.h);
      iov[i] = iovec{p, size};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    std::size_t done = 0;
    while (done < n) {
      const int sent = sendmmsg(fd, msgs.data() + done, static_cast<unsigned>(n - done), 0);
      if (sent < 0) {
        if (errno == ENOBUFS || errno == EAGAIN) {
          std::this_thread::sleep_for(std::chrono::microseconds(50));
          continue;
        }
        fail("sendmmsg");
      }
      done += static_cast<std::size_t>(sent);
    }
    seq += n;
  }
  const double elapsed = seconds_since(start);
  std::printf("sent=%llu\nbytes=%llu\nseconds=%.6f\nhash=%016llx\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(count * size),
              elapsed, static_cast<unsigned long long>(hash.h));
  return 0;
}

int udp_sink(char** argv) {
  const int fd = udp_socket();
  bind_to(fd, argv[0]);
  const int idle_ms = std::atoi(argv[1]);
  const double limit = std::atof(argv[2]);
  std::vector<std::uint64_t> hashes;  // per sequence number, 0 = not seen
  std::uint64_t received = 0, unique = 0, duplicates = 0, late = 0, bad = 0, bytes = 0;
  std::uint64_t max_seq = 0;
  bool any = false;
  Clock::time_point first{}, last{};
  std::array<std::uint8_t, 2048> buf{};
  std::array<std::uint8_t, 2048> expect{};
  const auto start = Clock::now();
  while (seconds_since(start) < limit) {
    if (!readable(fd, any ? idle_ms : 100)) {
      if (any) break;
      continue;
    }
    const ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 16) continue;
    const auto now = Clock::now();
    if (!any) first = now;
    last = now;
    any = true;
    ++received;
    bytes += static_cast<std::uint64_t>(n);
    std::uint64_t seq = 0;
    std::memcpy(&seq, buf.data(), 8);
    fill_datagram(expect.data(), static_cast<std::size_t>(n), seq);
    if (seq > 100'000'000 ||
        std::memcmp(expect.data(), buf.data(), static_cast<std::size_t>(n)) != 0) {
      ++bad;
      continue;
    }
    if (seq >= hashes.size()) hashes.resize(std::max<std::size_t>(seq + 1, hashes.size() * 2), 0);
    if (hashes[seq] != 0) {
      ++duplicates;
      continue;
    }
    Fnv one;
    one.add(buf.data(), static_cast<std::size_t>(n));
    hashes[seq] = one.h;
    ++unique;
    if (unique > 1 && seq < max_seq) ++late;
    max_seq = std::max(max_seq, seq);
  }
  Fnv hash;
  for (std::uint64_t s = 0; s <= max_seq && s < hashes.size(); ++s) {
    if (hashes[s] != 0) hash.add_u64(hashes[s]);
  }
  const double span = std::chrono::duration<double>(last - first).count();
  std::printf(
      "received=%llu\nunique=%llu\nduplicates=%llu\nlate=%llu\nbad=%llu\nbytes=%llu\n"
      "seconds=%.6f\nhash=%016llx\n",
      static_cast<unsigned long long>(received), static_cast<unsigned long long>(unique),
      static_cast<unsigned long long>(duplicates), static_cast<unsigned long long>(late),
      static_cast<unsigned long long>(bad), static_cast<unsigned long long>(bytes), span,
      static_cast<unsigned long long>(hash.h));
  return 0;
}

int tcp_send(char** argv) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("socket");
  const sockaddr_in to = address(argv[0], argv[1]);
  const auto start = Clock::now();
  while (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    if (seconds_since(start) > 5.0) fail("connect");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::uint64_t total = std::strtoull(argv[2], nullptr, 10);
  std::vector<std::uint8_t> chunk(256 * 1024);
  Fnv hash;
  std::uint64_t offset = 0;
  while (offset < total) {
    const std::size_t n = std::min<std::uint64_t>(chunk.size(), total - offset);
    fill_stream(chunk.data(), n, offset);
    hash.add(chunk.data(), n);
    std::size_t done = 0;
    while (done < n) {
      const ssize_t w = send(fd, chunk.data() + done, n - done, 0);
      if (w <= 0) fail("send");
      done += static_cast<std::size_t>(w);
    }
    offset += n;
  }
  int mss = 0;
  socklen_t len = sizeof mss;
  (void)getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &len);
  shutdown(fd, SHUT_WR);
  std::array<std::uint8_t, 64> sink{};
  while (recv(fd, sink.data(), sink.size(), 0) > 0) {
  }
  std::printf("bytes=%llu\nhash=%016llx\nmss=%d\nseconds=%.6f\n",
              static_cast<unsigned long long>(total), static_cast<unsigned long long>(hash.h), mss,
              seconds_since(start));
  close(fd);
  return 0;
}

int tcp_sink(char** argv) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) fail("socket");
  bind_to(listener, argv[0]);
  if (listen(listener, 1) != 0) fail("listen");
  const double limit = std::atof(argv[1]);
  const double omit = std::atof(argv[2]) / 1000.0;
  const auto start = Clock::now();
  while (!readable(listener, 100)) {
    if (seconds_since(start) > limit) {
      std::fprintf(stderr, "wanlab_probe: no connection\n");
      return 1;
    }
  }
  const int fd = accept(listener, nullptr, nullptr);
  if (fd < 0) fail("accept");
  std::vector<std::uint8_t> buf(256 * 1024);
  Fnv hash;
  std::uint64_t bytes = 0;
  // The goodput counts from the first read after OMIT_MS (slow start) to the last read.
  std::uint64_t bytes_at_mark = 0;
  bool marked = false;
  Clock::time_point first{}, mark{}, last{};
  while (seconds_since(start) < limit) {
    if (!readable(fd, 200)) continue;
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) fail("recv");
    if (n == 0) break;
    const auto now = Clock::now();
    if (bytes == 0) first = now;
    hash.add(buf.data(), static_cast<std::size_t>(n));
    bytes += static_cast<std::uint64_t>(n);
    last = now;
    if (!marked && std::chrono::duration<double>(now - first).count() >= omit) {
      marked = true;
      mark = now;
      bytes_at_mark = bytes;
    }
  }
  const double span = std::chrono::duration<double>(last - mark).count();
  const double rate =
      marked && span > 0 ? static_cast<double>(bytes - bytes_at_mark) * 8 / span : 0.0;
  std::printf("bytes=%llu\nhash=%016llx\nseconds=%.6f\ngoodput_bps=%.0f\n",
              static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(hash.h),
              std::chrono::duration<double>(last - first).count(), rate);
  close(fd);
  close(listener);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  struct Mode {
    const char* name;
    int args;
    int (*run)(char**);
  };
  const std::array<Mode, 6> modes{{{"udp-echo", 2, udp_echo},
                                   {"udp-ping", 4, udp_ping},
                                   {"udp-blast", 5, udp_blast},
                                   {"udp-sink", 3, udp_sink},
                                   {"tcp-send", 3, tcp_send},
                                   {"tcp-sink", 3, tcp_sink}}};
  if (argc >= 2) {
    for (const Mode& m : modes) {
      if (std::strcmp(argv[1], m.name) == 0 && argc == m.args + 2) return m.run(argv + 2);
    }
  }
  std::fprintf(stderr, "usage: see the comment at the top of tests/wanlab/wanlab_probe.cpp\n");
  return 2;
}
