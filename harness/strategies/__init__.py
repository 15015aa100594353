"""Strategy comparisons: one run per mitigation strategy, judged against one base evaluation."""
