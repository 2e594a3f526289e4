"""Engine adapters. One module per engine family behind a small Protocol; never imports `pipeline`."""
