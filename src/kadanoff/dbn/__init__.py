"""Deep belief networks: greedily stacked RBMs (theory.md sections 3 and 6; MS Fig. 3).

:class:`DeepBeliefNetwork` (:mod:`.network`) maps data up and down the stack;
:func:`train_dbn` (:mod:`.training`) trains it layer by layer and returns a :class:`DBNFit`
with each layer's training result; :func:`save_model` / :func:`load_model` (:mod:`.io`) read
and write network (and single-RBM) files.
"""

from __future__ import annotations

from .io import load_model, save_model
from .network import DeepBeliefNetwork
from .training import DBNFit, train_dbn

__all__ = ["DeepBeliefNetwork", "DBNFit", "train_dbn", "save_model", "load_model"]
