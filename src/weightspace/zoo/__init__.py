"""Model zoos: datasets, architectures, hyper-parameter spaces, training."""
