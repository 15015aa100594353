"""Evaluation: scoring items once per set of weights, paired statistics, sequential verdicts, the gate."""
