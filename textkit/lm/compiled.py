"""The n-gram kernels as one ahead-of-time compiled set (:mod:`textkit.compiled`): building, writing
and scoring a Kneser-Ney model import neither numba nor scipy."""

from textkit.compiled import KernelSet

NGRAM = KernelSet("ngram", ["textkit.lm.counting", "textkit.lm.arpa_text", "textkit.lm.encoding", "textkit.lm.bounded"])
