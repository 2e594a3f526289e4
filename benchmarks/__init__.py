"""`make bench`, `make bench-storage` and `make eval`: benchmarks and quality evaluations that print
figures. Not part of the runtime package; may import `pipeline`, `models` and `tools`."""
