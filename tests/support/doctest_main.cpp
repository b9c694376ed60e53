// doctest's implementation and main(), compiled once for every test executable: compiled
// into each test file instead, it cost ~8 s of CPU per file at -O2.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
