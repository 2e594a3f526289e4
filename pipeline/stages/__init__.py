"""The dubbing stages, each a plain function: typed inputs in, small result dict out, media in the store."""
