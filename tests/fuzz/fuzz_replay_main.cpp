// Replay driver for fuzz targets when libFuzzer is not available: feeds every file of the
// given corpus directories to LLVMFuzzerTestOneInput, then `--generated N` inputs from a
// fixed-seed generator (random bytes and mutations of the corpus), so runs repeat exactly.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::vector<std::uint8_t>> corpus;
  long generated = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--generated" && i + 1 < argc) {
      generated = std::strtol(argv[++i], nullptr, 10);
    } else if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        if (entry.is_regular_file()) corpus.push_back(read_file(entry.path()));
      }
    } else {
      std::fprintf(stderr, "fuzz replay: '%s' is not a corpus directory\n", arg.c_str());
      return 2;
    }
  }
  for (const auto& input : corpus) LLVMFuzzerTestOneInput(input.data(), input.size());

  std::mt19937_64 rng(0x0005a138fbde8743ULL);
  std::vector<std::uint8_t> input;
  for (long n = 0; n < generated; ++n) {
    if (!corpus.empty() && n % 2 == 0) {
      input = corpus[rng() % corpus.size()];
      const std::size_t flips = 1 + rng() % 4;
      for (std::size_t f = 0; f < flips && !input.empty(); ++f) {
        input[rng() % input.size()] = static_cast<std::uint8_t>(rng());
      }
      if (rng() % 4 == 0 && !input.empty()) input.resize(rng() % input.size());
    } else {
      input.resize(rng() % 64);
      for (auto& b : input) b = static_cast<std::uint8_t>(rng());
    }
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("fuzz replay: %zu corpus inputs and %ld generated inputs passed\n", corpus.size(),
              generated);
  return 0;
}
