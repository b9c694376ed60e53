// doctest's implementation without main(), for the tests that write their own main()
// (dwcp_add_test(... CUSTOM_MAIN)).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
