"""The ``textkit`` command: a click group whose subcommands are imported only when used.

Each command family lives in its own module; ``COMMANDS`` maps a command name to
``(module, function, one-line help)`` so that ``textkit --help`` is instant and lists every command
without importing torch.
"""

from __future__ import annotations

import importlib
import sys

import click

from .common import exit_without_teardown, run_guarded, skip_teardown_requested

COMMANDS: dict[str, tuple[str, str, str]] = {
    # text pipeline
    "tokenize": ("text", "tokenize", "Tokenize a file or stdin, one line of space-joined tokens per input line."),
    "build-vocab": ("text", "build_vocab", "Build a vocabulary (JSON) from a corpus."),
    "train-spm": ("text", "train_spm", "Train a sentencepiece subword model (BPE or unigram)."),
    # language models
    "train-lm": ("lm", "train_lm", "Train a language model: n-gram (MLE, add-k, KN, modified KN) or RNN/LSTM/GRU."),
    "eval-ppl": ("lm", "eval_ppl", "Perplexity of any saved language model on a file or WikiText."),
    "generate": ("lm", "generate", "Sample text from any saved language model."),
    # word vectors
    "train-w2v": ("w2v", "train_w2v", "Train word2vec (skip-gram or CBOW) on a corpus."),
    "eval-w2v": ("w2v", "eval_w2v", "Evaluate word vectors on analogies and word-pair similarity."),
    "similar": ("w2v", "similar", "Nearest words to a word (or a sum of words) in word vectors."),
    "analogy": ("w2v", "analogy", "Solve 'A is to B as C is to ?' with word vectors."),
    "plot-embeddings": ("w2v", "plot_embeddings", "Plot word vectors in 2-D (PCA or t-SNE)."),
    # text classification
    "train-clf": ("classify", "train_clf", "Train a text classifier (bow, fasttext, rnn, lstm, gru)."),
    "eval-clf": (
        "classify",
        "eval_clf",
        "Score a classifier: accuracy, macro-F1, per-class figures, confusion matrix.",
    ),
    "predict": ("classify", "predict", "Label texts (arguments or stdin) with a trained classifier."),
}


class LazyGroup(click.Group):
    """A group that imports a command's module the first time the command is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(f".{module}", __package__), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100, "terminal_width": 100},
)
@click.version_option(package_name="textkit")
def cli() -> None:
    """textkit: word embeddings and sequence models in one pipeline.

    \b
    Examples:
      textkit train-w2v                      # word2vec on the bundled Wikipedia sample
      textkit tokenize notes.txt --lang zh   # Chinese word segmentation
      textkit COMMAND --help                 # options and examples for one command
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning textkit errors into one line on stderr."""
    try:
        code = run_guarded(cli, argv)
    except KeyboardInterrupt as e:  # a signal in the moment run_guarded hands back its handler
        code = 143 if type(e).__name__ == "Terminated" else 130
    if argv is None and code == 0 and skip_teardown_requested():
        exit_without_teardown(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
