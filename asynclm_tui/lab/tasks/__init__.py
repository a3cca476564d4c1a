"""What the benchmarks and the trainer share: BFCL tasks and their tools, the
function latencies, the replay oracle and the natural requests (their held-out
split included).  It imports neither of them."""
