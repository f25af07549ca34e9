"""Compiled building blocks shared by the samplers and the trainer (the layer below ``ising``
and ``rbm``): the counter-based hash RNG (:mod:`.counter_hash`) and the xoshiro256** streams
of the cluster samplers (:mod:`.xoshiro`)."""
