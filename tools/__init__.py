"""Tools for development, tests and benchmarks (a local SeaweedFS S3 server); not part of the runtime
package, and nothing in `pipeline` or `models` imports them."""
