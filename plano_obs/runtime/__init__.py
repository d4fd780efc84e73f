"""the runtime: finding and building binaries, starting and stopping the stack natively or in Compose, probes."""
