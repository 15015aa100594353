"""Models: loading (hub ids, folders, GGUF), fingerprints, and greedy generation."""
