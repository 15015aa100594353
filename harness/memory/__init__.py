"""The memory plan: what a run config needs per process on its target, before anything loads.

``shape`` counts a model's weights from its ``config.json``; ``plan`` turns the
shape and the run's settings into a line per component; ``fixes`` says what
would make a plan that does not fit fit; ``report`` prints it for a run config;
``target`` says what it is checked against. Nothing here imports torch.
"""
