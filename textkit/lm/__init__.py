"""Language models: n-gram (``textkit.lm.ngram``) and RNN/LSTM/GRU (``textkit.lm.rnn``).

Every model can be evaluated by :func:`textkit.lm.perplexity.perplexity_from_logprob` through one
code path. A saved model is a folder with ``config.json`` whose ``"kind"`` names the model family.
"""
