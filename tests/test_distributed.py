"""Data-parallel training under torchrun: two CPU processes (gloo) against one process."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from textkit.io import load_tensor_metadata
from textkit.lm.train import CHECKPOINT, TrainConfig, split_lines, train_language_model

LINES = ["a b c d e f g h", "h g f e d c b a", "a c e g b d f h", "b d f h a c e g"] * 30
ARCHITECTURE = dict(model="lstm", embed_dim=12, hidden_dim=12, layers=2, dropout=0.0)
CONFIG = dict(epochs=2, batch_size=4, bptt=5, optimizer="sgd", lr=1.0, momentum=0.5, clip=0.5, progress=False, seed=3)

WORKER = """
import json, sys
from textkit.lm.train import TrainConfig, split_lines, train_language_model
lines, architecture, config, out = json.loads(open(sys.argv[1]).read())
train, valid = split_lines(lines)
_, result = train_language_model(train, valid, out, architecture, TrainConfig(**config), tokenizer="whitespace", device="cpu")
import os
if os.environ["RANK"] == "0":
    open(out + ".json", "w").write(json.dumps(result))
"""


def test_two_processes_match_one_process(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps([LINES, ARCHITECTURE, CONFIG, str(tmp_path / "ddp")]))
    worker = tmp_path / "worker.py"
    worker.write_text(textwrap.dedent(WORKER))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(worker), str(spec)]
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = json.loads((tmp_path / "ddp.json").read_text())

    train, valid = split_lines(LINES)
    _, single = train_language_model(train, valid, tmp_path / "single", ARCHITECTURE, TrainConfig(**CONFIG),
                                     tokenizer="whitespace", device="cpu")
    assert ddp["history"][-1]["train_ppl"] < ddp["history"][0]["train_ppl"]  # the loss falls
    for a, b in zip(ddp["history"], single["history"]):
        assert a["train_ppl"] == pytest.approx(b["train_ppl"], rel=1e-4)
        assert a["valid_ppl"] == pytest.approx(b["valid_ppl"], rel=1e-4)
        assert a["train_tokens"] == b["train_tokens"]
    # one checkpoint, written by rank 0 only, and no temporary files left behind
    files = sorted(p.name for p in (tmp_path / "ddp").iterdir())
    assert files.count(CHECKPOINT) == 1
    assert not [f for f in files if f.endswith(".part")]
    progress = json.loads(load_tensor_metadata(tmp_path / "ddp" / CHECKPOINT)["textkit.trainer"])
    assert progress["world_size"] == 2
