"""``optbench study lottery``: does the lottery ticket hypothesis hold, and for networks that grokked?

Iterative magnitude pruning (Frankle & Carbin 2019): train, prune ``--prune-rate`` of the remaining
Linear weights (globally or per layer, with ``torch.nn.utils.prune``), rewind the survivors to their
values at initialization or at step k (Frankle et al. 2020), train again, until ``--target-sparsity``.
At each sparsity three networks train: the ticket (mask + rewound weights), the same mask with a
random re-initialization, and a random mask with the same per-layer counts (rewound weights). One
task per seed runs the whole chain (it is sequential) with its controls. Reported: the test metric
vs sparsity over seeds with Student t intervals, the highest sparsity at which the ticket still matches
the dense network, the steps to reach the dense network's test metric, and on ``modadd`` the step at
which test accuracy jumps (grokking) for the dense network, the ticket and the controls.

``--problem modadd`` brings its own defaults where they are not given (``grokking.py``):
``modadd(p=47, train_fraction=0.3, activation='square', loss='mse', init_scale=3.0)``,
AdamW with weight decay 1 on minibatches of 166 (memorizes by step ~60, generalizes after a plateau at ~760),
500 epochs, rewinding to step 120, pruning to 73.8 % sparsity; m, g, w and a plateau-then-jump verdict per seed.
"""
