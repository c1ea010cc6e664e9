"""``optbench study connectivity``: is there a path between two solutions without an "activation energy"?

Loss and test metric along the straight line ``(1 - alpha) A + alpha B`` between two trained networks,
and its barrier, the largest excess over the line between the ends' losses (Frankle et al. 2020), for
(1) two independently seeded solutions, (2) the same after aligning B's hidden units to A's by weight
matching (Ainsworth et al. 2023; the permuted network is checked to compute the same function), swept
over the width (Entezari et al. 2022 predict the aligned barrier shrinks as width grows), and (3) two
copies spawned from a shared checkpoint at step k and trained on different data orders (stability to
SGD noise), swept over k. Every training run is one task; pairing, alignment and the paths are
computed by the analysis from the stored weights.
"""
