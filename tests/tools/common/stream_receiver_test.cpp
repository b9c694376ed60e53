// StreamReceiver fed frame by frame, as a hostile or broken sender could send them, writing
// into a scratch --output directory. The Stream is a default handle: verdicts go nowhere,
// so the tally and the directory's contents are what is checked.
#include "tools/common/stream_receiver.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tools/common/file_sink.h"
#include "tools/common/test_pattern.h"

using namespace dwcp::tools;
using Bytes = std::vector<std::byte>;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system's temporary directory, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "dwcp-recv-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The output directory of one test: a ScratchDir/out opened as dwcp-recv opens it.
struct Output {
  ScratchDir scratch;
  fs::path dir = scratch.path() / "out";
  ReceiveTarget target;

  Output() {
    auto fd = open_output_directory(dir.string());
    REQUIRE(fd.has_value());
    target.output_fd = *fd;
  }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  ~Output() { ::close(target.output_fd); }

  // Every entry under the output directory, relative, sorted.
  [[nodiscard]] std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      names.push_back(entry.path().lexically_relative(dir).generic_string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
};

Bytes text_bytes(std::string_view text) {
  const auto bytes = std::as_bytes(std::span(text.data(), text.size()));
  return {bytes.begin(), bytes.end()};
}

Bytes header(const StreamHeader& h) {
  Bytes out(encoded_size(h));
  REQUIRE(encode_header(out, h).has_value());
  return out;
}

// A header for a path the encoder would refuse: written field by field, as an attacker would.
Bytes raw_file_header(std::string_view path, std::uint64_t size) {
  StreamHeader h;
  h.kind = ContentKind::file;
  h.size = size;
  h.mode = 0644;
  h.path = "x";
  Bytes out = header(h);
  out.resize(out.size() - 1);
  out[16] = static_cast<std::byte>(path.size() >> 8);
  out[17] = static_cast<std::byte>(path.size() & 0xff);
  const Bytes name = text_bytes(path);
  out.insert(out.end(), name.begin(), name.end());
  return out;
}

Bytes data(std::string_view content) {
  Bytes out{static_cast<std::byte>(FrameType::data)};
  const Bytes bytes = text_bytes(content);
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

Bytes trailer(std::uint64_t bytes, std::optional<dwcp::simd::Hash128> hash) {
  Bytes out(kTrailerSize);
  REQUIRE(encode_trailer(out, StreamTrailer{bytes, hash}).has_value());
  return out;
}

dwcp::simd::Hash128 hash_of(std::string_view content) {
  return dwcp::simd::xxh3_128(dwcp::simd::as_bytes(content));
}

StreamHeader file(std::string path, std::uint64_t size, std::uint32_t mode = 0640) {
  StreamHeader h;
  h.kind = ContentKind::file;
  h.size = size;
  h.mode = mode;
  h.path = std::move(path);
  return h;
}

// Sends one whole file unit: header, content in pieces of `piece` bytes, trailer. Returns
// the content bytes the receiver counted.
std::uint64_t send_file(StreamReceiver& receiver, const std::string& path, std::string_view content,
                        std::size_t piece = 3) {
  receiver.consume(header(file(path, content.size())));
  std::uint64_t counted = 0;
  for (std::size_t at = 0; at < content.size(); at += piece) {
    counted += receiver.consume(data(content.substr(at, piece)));
  }
  receiver.consume(trailer(content.size(), hash_of(content)));
  return counted;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ReceiveTally finish(StreamReceiver& receiver) {
  ReceiveTally tally;
  receiver.finish(tally);
  return tally;
}

}  // namespace

TEST_CASE("files land under the output directory, byte-exact, with their mode") {
  Output out;
  StreamReceiver receiver(dwcp::Stream{}, out.target, 1);
  CHECK(send_file(receiver, "top.txt", "hello, world") == 12);
  send_file(receiver, "dir/sub/nested.bin", std::string(1000, 'z'), 64);
  send_file(receiver, "dir/empty", "");
  const ReceiveTally tally = finish(receiver);
  CHECK(tally.files == 3);
  CHECK(tally.files_written == 3);
  CHECK(tally.units == 3);
  CHECK(tally.verified_units == 3);
  CHECK(tally.verification_errors == 0);
  CHECK(tally.digest.count() == 3);
  CHECK(read_file(out.dir / "top.txt") == "hello, world");
  CHECK(read_file(out.dir / "dir/sub/nested.bin") == std::string(1000, 'z'));
  CHECK(fs::file_size(out.dir / "dir/empty") == 0);
  struct stat st {};
  REQUIRE(::stat((out.dir / "top.txt").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777 & ~0640) == 0);  // the umask may take bits away, never add them
  CHECK(out.entries() ==
        std::vector<std::string>{"dir", "dir/empty", "dir/sub", "dir/sub/nested.bin", "top.txt"});
}

TEST_CASE("a file whose hash or size does not verify is never put in place") {
  Output out;
  StreamReceiver receiver(dwcp::Stream{}, out.target, 1);
  receiver.consume(header(file("bad-hash", 5)));
  receiver.consume(data("hello"));
  receiver.consume(trailer(5, hash_of("jello")));
  receiver.consume(header(file("short", 10)));
  receiver.consume(data("12345"));
  receiver.consume(trailer(5, hash_of("12345")));  // the header promised 10
  const ReceiveTally tally = finish(receiver);
  CHECK(tally.files == 2);
  CHECK(tally.files_written == 0);
  CHECK(tally.verified_units == 0);
  CHECK(tally.verification_errors == 2);
  CHECK(out.entries().empty());  // no temporary files left behind either
}

TEST_CASE("hostile paths are rejected and counted; nothing is written outside") {
  for (const std::string_view path :
       {"../escape", "a/../../escape", "/tmp/dwcp-absolute", "a//b", "./a", "a/", ".."}) {
    CAPTURE(path);
    Output out;
    StreamReceiver receiver(dwcp::Stream{}, out.target, 1);
    receiver.consume(raw_file_header(path, 3));
    receiver.consume(data("bad"));
    receiver.consume(trailer(3, hash_of("bad")));
    send_file(receiver, "fine", "ok");  // the stream stays usable after a rejection
    const ReceiveTally tally = finish(receiver);
    CHECK(tally.rejected_paths == 1);
    CHECK(tally.malformed_frames == 0);
    CHECK(tally.files_written == 1);
    CHECK(tally.verified_units == 1);
    CHECK(out.entries() == std::vector<std::string>{"fine"});
    CHECK_FALSE(fs::exists(out.scratch.path() / "escape"));
  }
  CHECK_FALSE(fs::exists("/tmp/dwcp-absolute"));
}

TEST_CASE("a symlink inside the output directory is never followed out of it") {
  Output out;
  const fs::path outside = out.scratch.path() / "outside";
  fs::create_directory(outside);
  fs::create_directory_symlink(outside, out.dir / "link");
  fs::create_symlink(outside / "target", out.dir / "file-link");
  StreamReceiver receiver(dwcp::Stream{}, out.target, 1);
  send_file(receiver, "link/planted", "evil");
  send_file(receiver, "link/deeper/planted", "evil");
  // A symlink at the file's own name is replaced, not written through.
  send_file(receiver, "file-link", "replaced");
  const ReceiveTally tally = finish(receiver);
  CHECK(tally.rejected_paths == 2);
  CHECK(tally.files_written == 1);
  CHECK(fs::is_empty(outside));
  CHECK_FALSE(fs::exists(outside / "target"));
  CHECK_FALSE(fs::is_symlink(out.dir / "file-link"));
  CHECK(read_file(out.dir / "file-link") == "replaced");
}

TEST_CASE("malformed frames are counted and the rest of the stream is dropped") {
  SUBCASE("data before any header") {
    Output out;
    StreamReceiver receiver(dwcp::Stream{}, out.target, 1);
    CHECK(receiver.consume(data("x")) == 0);
    CHECK(send_file(receiver, "late", "ignored") == 0);
    const ReceiveTally tally = finish(receiver);
    CHECK(tally.malformed_frames == 1);
    CHECK(tally.files_written == 0);
    CHECK(out.entries().empty());
  }
  SUBCASE("a truncated header, an unknown frame type, a second header inside a unit") {
    const Bytes whole = header(file("f", 1));
    const std::vector<Bytes> bad = {
        Bytes(whole.begin(), whole.begin() + 10),
        Bytes{std::byte{0x77}},
        Bytes{},
    };
    for (const Bytes& frame : bad) {
      Output out;
      StreamReceiver receiver(dwcp::Stream{}, out.target, 1);
      receiver.consume(frame);
      CHECK(finish(receiver).malformed_frames == 1);
    }
    Output out;
    StreamReceiver receiver(dwcp::Stream{}, out.target, 1);
    receiver.consume(header(file("f", 1)));
    receiver.consume(data("1"));
    receiver.consume(header(file("g", 1)));
    const ReceiveTally tally = finish(receiver);
    CHECK(tally.malformed_frames == 1);
    CHECK(tally.files_written == 0);
    CHECK(out.entries().empty());  // the half-written temporary file is gone
  }
  SUBCASE("a file trailer without a hash") {
    Output out;
    StreamReceiver receiver(dwcp::Stream{}, out.target, 1);
    receiver.consume(header(file("f", 1)));
    receiver.consume(data("1"));
    receiver.consume(trailer(1, std::nullopt));
    const ReceiveTally tally = finish(receiver);
    CHECK(tally.malformed_frames == 1);
    CHECK(tally.files_written == 0);
  }
}

TEST_CASE("a stream that ends inside a file leaves nothing behind") {
  Output out;
  StreamReceiver receiver(dwcp::Stream{}, out.target, 1);
  receiver.consume(header(file("partial", 100)));
  receiver.consume(data("only a part"));
  const ReceiveTally tally = finish(receiver);
  CHECK(tally.units == 1);
  CHECK(tally.verified_units == 0);
  CHECK(out.entries().empty());
}

TEST_CASE("the pattern is verified byte by byte, without writing anything") {
  Output out;
  StreamReceiver receiver(dwcp::Stream{}, out.target, 1);
  StreamHeader pattern;
  pattern.size = 200;
  receiver.consume(header(pattern));
  Bytes message(101);
  message[0] = static_cast<std::byte>(FrameType::data);
  fill_pattern(0, 0, std::span(message).subspan(1));  // a default Stream's id is 0
  CHECK(receiver.consume(message) == 100);
  fill_pattern(0, 100, std::span(message).subspan(1));
  message[50] ^= std::byte{1};
  receiver.consume(message);
  receiver.consume(trailer(200, std::nullopt));
  const ReceiveTally tally = finish(receiver);
  CHECK(tally.verification_errors == 1);
  CHECK(tally.verified_units == 0);
  CHECK(tally.files == 0);
  CHECK(out.entries().empty());
}

TEST_CASE("without an output directory files are hashed and dropped") {
  ReceiveTarget target;
  StreamReceiver receiver(dwcp::Stream{}, target, 1);
  send_file(receiver, "a", "content");
  send_file(receiver, "../hostile", "still refused");
  const ReceiveTally tally = finish(receiver);
  CHECK(tally.files == 2);
  CHECK(tally.files_written == 0);
  CHECK(tally.verified_units == 1);
  CHECK(tally.rejected_paths == 1);
}

namespace {

Bytes reverse_request(std::uint64_t size) {
  StreamHeader h;
  h.kind = ContentKind::reverse;
  h.size = size;
  h.reverse = ReverseRequest{};
  return header(h);
}

}  // namespace

TEST_CASE("dwcp-recv takes a reverse request as a stream's first unit and reads no further") {
  ReceiveTarget target;
  target.take_reverse = true;
  StreamReceiver receiver(dwcp::Stream{}, target, 1);
  receiver.consume(reverse_request(4096));
  REQUIRE(receiver.reverse_request().has_value());
  CHECK(receiver.reverse_request()->kind == ContentKind::reverse);
  CHECK(receiver.reverse_request()->size == 4096u);
  CHECK(receiver.consume(data("ignored")) == 0);  // the stream is the sender's now
  const ReceiveTally tally = finish(receiver);
  CHECK(tally.units == 0);
  CHECK(tally.malformed_frames == 0);

  // Refused (another controller than the connection's): one unit that did not verify.
  StreamReceiver refused(dwcp::Stream{}, target, 1);
  refused.consume(reverse_request(1));
  refused.refuse_request(Verdict::refused);
  const ReceiveTally refusal = finish(refused);
  CHECK(refusal.units == 1);
  CHECK(refusal.verified_units == 0);
}

TEST_CASE("a reverse request is malformed where none is taken, or after another unit") {
  ReceiveTarget forward_only;
  StreamReceiver receiver(dwcp::Stream{}, forward_only, 1);
  receiver.consume(reverse_request(1));
  CHECK_FALSE(receiver.reverse_request().has_value());
  CHECK(finish(receiver).malformed_frames == 1);

  ReceiveTarget target;
  target.take_reverse = true;
  StreamReceiver late(dwcp::Stream{}, target, 1);
  send_file(late, "f", "abc");
  late.consume(reverse_request(1));
  CHECK_FALSE(late.reverse_request().has_value());
  CHECK(finish(late).malformed_frames == 1);
}

TEST_CASE("dwcp-send -R takes the test pattern and nothing else; a verdict first is a refusal") {
  ReceiveTarget target;
  target.pattern_only = true;
  StreamReceiver files(dwcp::Stream{}, target, 1);
  files.consume(header(file("f", 3)));
  CHECK(finish(files).malformed_frames == 1);

  StreamReceiver requests(dwcp::Stream{}, target, 1);
  requests.consume(reverse_request(1));
  CHECK(finish(requests).malformed_frames == 1);

  StreamReceiver refused(dwcp::Stream{}, target, 1);
  StreamVerdict verdict;
  verdict.result = Verdict::refused;
  Bytes frame(kVerdictSize);
  REQUIRE(encode_verdict(frame, verdict).has_value());
  refused.consume(frame);
  REQUIRE(refused.peer_verdict().has_value());
  CHECK(refused.peer_verdict()->result == Verdict::refused);
  CHECK(refused.settled());
  const ReceiveTally tally = finish(refused);
  CHECK(tally.units == 0);
  CHECK(tally.malformed_frames == 0);

  StreamReceiver pattern(dwcp::Stream{}, target, 1);
  StreamHeader h;
  h.size = 100;
  pattern.consume(header(h));
  CHECK_FALSE(pattern.settled());  // a unit under way
  Bytes message(101);
  message[0] = static_cast<std::byte>(FrameType::data);
  fill_pattern(0, 0, std::span(message).subspan(1));
  CHECK(pattern.consume(message) == 100);
  pattern.consume(trailer(100, std::nullopt));
  CHECK(pattern.settled());
  const ReceiveTally verified = finish(pattern);
  CHECK(verified.units == 1);
  CHECK(verified.verified_units == 1);
}
