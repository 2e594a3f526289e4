"""Tools for development, tests and benchmarks; nothing in the pipeline imports them."""
