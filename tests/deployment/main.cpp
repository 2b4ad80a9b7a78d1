// Entry point of the deployment tests: key, topology and node files, the
// node executables' configuration checks and mhr keygen.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
