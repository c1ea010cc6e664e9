"""``optbench study seeds``: how much do seeds matter out of the training set?

The same network, data and loss are trained N times, varying (a) the initialisation, (b) the data
order, (c) both, and (d) nothing (a determinism audit: the same seeds twice must give bit-identical
weights on the CPU). Reported per source of variance: the spread of the test metric (mean, std with a
bootstrap interval, min, max, best–worst gap, outlier seeds), how often two seeds label a test input
differently next to the error rate, weight-space against function-space distance, and how the spread
changes with training length and with the loss (cross-entropy against MSE on a classifier).
"""
