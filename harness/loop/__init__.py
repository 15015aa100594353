"""The loop: train -> evaluate -> decide rounds, the early-warning signal, the run folder, run reports."""
