#include "tools/wanem/gilbert_elliott.h"

#include <doctest/doctest.h>

#include <cmath>

using namespace dwcp::wanem;

TEST_CASE("a disabled model loses nothing") {
  Random random(7);
  GilbertElliott model(GilbertElliottParams{});
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(model.lose(random));
}

TEST_CASE("parameters for a mean loss give that loss and that burst length") {
  const auto params = GilbertElliottParams::for_mean_loss(0.03, 3.0);
  CHECK(params.mean_loss() == doctest::Approx(0.03));
  CHECK(params.r == doctest::Approx(1.0 / 3.0));

  Random random(42);
  GilbertElliott model(params);
  const int n = 1'000'000;
  int lost = 0;
  int bursts = 0;
  bool previous = false;
  for (int i = 0; i < n; ++i) {
    const bool l = model.lose(random);
    lost += l ? 1 : 0;
    if (l && !previous) ++bursts;
    previous = l;
  }
  const double rate = static_cast<double>(lost) / n;
  CHECK(rate == doctest::Approx(0.03).epsilon(0.05));
  CHECK(static_cast<double>(lost) / bursts == doctest::Approx(3.0).epsilon(0.05));
}

TEST_CASE("loss in the good state and mercy in the bad state follow the mean-loss formula") {
  GilbertElliottParams params;
  params.p = 0.05;
  params.r = 0.2;
  params.loss_bad = 0.5;
  params.loss_good = 0.01;
  const double expected = (0.2 * 0.01 + 0.05 * 0.5) / 0.25;
  CHECK(params.mean_loss() == doctest::Approx(expected));
  Random random(3);
  GilbertElliott model(params);
  const int n = 1'000'000;
  int lost = 0;
  for (int i = 0; i < n; ++i) lost += model.lose(random) ? 1 : 0;
  CHECK(static_cast<double>(lost) / n == doctest::Approx(expected).epsilon(0.05));
}

TEST_CASE("the same seed repeats the same losses") {
  const auto params = GilbertElliottParams::for_mean_loss(0.1, 4.0);
  Random r1(99);
  Random r2(99);
  GilbertElliott m1(params);
  GilbertElliott m2(params);
  for (int i = 0; i < 10000; ++i) REQUIRE(m1.lose(r1) == m2.lose(r2));
}
