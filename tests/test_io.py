"""textkit.io: lazy UTF-8 reading, compression, errors naming file and line, atomic writes."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat

import pytest

from textkit.errors import BadEncodingError, InputFileError, ModelFileError, OutputError, UsageError
from textkit.io import (
    atomic_path,
    atomic_write,
    check_readable,
    decode_lines,
    iter_lines,
    load_tensors,
    read_json,
    read_text,
    save_tensors,
    write_json,
)

TEXT = "first line\nzweite Zeile: Grüße\n第三行：中文\n"
LINES = ["first line", "zweite Zeile: Grüße", "第三行：中文"]


@pytest.mark.parametrize(
    "suffix,opener", [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open), (".GZ", gzip.open)]
)
def test_compressed_files_are_read_transparently(tmp_path, suffix, opener):
    path = tmp_path / f"text.txt{suffix}"
    with opener(path, "wb") as f:
        f.write(TEXT.encode())
    assert list(iter_lines(path)) == LINES


def test_plain_file_bom_and_crlf(tmp_path):
    path = tmp_path / "win.txt"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT.replace("\n", "\r\n").encode())
    assert list(iter_lines(path)) == LINES
    assert list(iter_lines(path, keepends=True))[1] == "zweite Zeile: Grüße\r\n"


def test_bom_only_dropped_at_start(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"a\n\xef\xbb\xbfb\n")
    assert list(iter_lines(path)) == ["a", "\ufeffb"]


def test_reading_is_lazy(tmp_path):
    path = tmp_path / "lazy.txt"
    path.write_bytes(b"good\n\xff\xfe bad\n")
    lines = iter_lines(path)
    assert next(lines) == "good"  # the bad second line has not been decoded yet
    with pytest.raises(InputFileError):
        next(lines)


def test_bad_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("ok\nstill ok\ncaf\u00e9\n".encode("latin-1"))
    with pytest.raises(BadEncodingError) as e:
        list(iter_lines(path))
    message = str(e.value)
    assert isinstance(e.value, InputFileError)
    assert str(path) in message and "line 3" in message and "--" not in message


def test_bad_utf8_in_compressed_file_names_line(tmp_path):
    path = tmp_path / "bad.txt.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"ok\n\xff\n")
    with pytest.raises(InputFileError, match="line 2"):
        list(iter_lines(path))


def test_errors_replace_and_ignore(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"caf\xe9 au lait\n")
    assert list(iter_lines(path, errors="replace")) == ["caf\ufffd au lait"]
    assert list(iter_lines(path, errors="ignore")) == ["caf au lait"]
    with pytest.raises(UsageError, match="errors must be one of"):
        list(iter_lines(path, errors="surrogateescape"))


def test_decode_lines_for_streams():
    assert list(decode_lines([b"\xef\xbb\xbfa\r\n", b"b\n"], "<stdin>")) == ["a", "b"]
    with pytest.raises(InputFileError, match="<stdin>: line 2 is not valid UTF-8"):
        list(decode_lines([b"a\n", b"\xc3\n"], "<stdin>"))


def test_missing_directory_and_unreadable(tmp_path, monkeypatch):
    with pytest.raises(InputFileError, match="no such file"):
        list(iter_lines(tmp_path / "nope.txt"))
    with pytest.raises(InputFileError, match="is a directory"):
        list(iter_lines(tmp_path))
    path = tmp_path / "secret.txt"
    path.write_text("x\n")
    # root can read a chmod-000 file, so simulate the permission check failing
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(InputFileError, match="permission denied"):
        check_readable(path)


def test_open_failure_becomes_input_file_error(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text("x\n")
    import textkit.io

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(textkit.io, "open", refuse, raising=False)
    with pytest.raises(InputFileError, match="cannot open"):
        list(iter_lines(path))


@pytest.mark.parametrize("suffix,payload", [(".gz", b"not gzip at all"), (".bz2", b"not bzip2"), (".xz", b"not xz")])
def test_corrupt_compressed_file(tmp_path, suffix, payload):
    path = tmp_path / f"corrupt.txt{suffix}"
    path.write_bytes(payload)
    with pytest.raises(InputFileError, match="read failed"):
        list(iter_lines(path))


def test_truncated_gzip(tmp_path):
    path = tmp_path / "cut.txt.gz"
    data = gzip.compress(("line\n" * 10000).encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="read failed"):
        list(iter_lines(path))


def test_read_text(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert read_text(path) == "\n".join(LINES)


def test_atomic_write_success_and_permissions(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    with atomic_write(path) as f:
        f.write("hello\n")
    assert path.read_text() == "hello\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["out.txt"]


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old contents\n")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write("half of the new")
            raise RuntimeError("disk full")
    assert path.read_text() == "old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary file left behind


def test_atomic_write_binary_and_no_newline_translation(tmp_path):
    with atomic_write(tmp_path / "b.bin", "wb") as f:
        f.write(b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    with atomic_write(tmp_path / "t.txt") as f:
        f.write("a\nb\n")
    assert (tmp_path / "t.txt").read_bytes() == b"a\nb\n"


def test_atomic_write_to_directory_or_unwritable_place(tmp_path):
    with pytest.raises(OutputError, match="is a directory"):
        with atomic_write(tmp_path):
            pass
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="cannot write"):
        with atomic_write(blocker / "child.txt"):
            pass


def test_atomic_path_cleans_up(tmp_path):
    target = tmp_path / "m.safetensors"
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise ValueError
    assert list(tmp_path.iterdir()) == []


def test_json_round_trip_and_errors(tmp_path):
    obj = {"tokens": ["a", "中文", "\u00e9"], "n": 3}
    write_json(tmp_path / "x.json", obj)
    assert read_json(tmp_path / "x.json") == obj
    assert "中文" in (tmp_path / "x.json").read_text(encoding="utf-8")  # human-readable, not \u escapes
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + b'{"a": 1}')
    assert read_json(tmp_path / "bom.json") == {"a": 1}
    (tmp_path / "bad.json").write_text('{"a": ')
    with pytest.raises(ModelFileError, match="not a valid vocabulary"):
        read_json(tmp_path / "bad.json", "vocabulary")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ModelFileError):
        read_json(tmp_path / "bin.json")
    with pytest.raises(InputFileError):
        read_json(tmp_path / "missing.json")


def test_tensors_round_trip_and_corrupt_file(tmp_path):
    torch = pytest.importorskip("torch")
    tensors = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.zeros(3)}
    save_tensors(tmp_path / "m.safetensors", tensors, {"kind": "test"})
    loaded = load_tensors(tmp_path / "m.safetensors")
    assert set(loaded) == {"w", "b"} and torch.equal(loaded["w"], tensors["w"])
    (tmp_path / "bad.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(ModelFileError, match="not a valid safetensors"):
        load_tensors(tmp_path / "bad.safetensors")


def test_atomic_write_removes_folders_it_created_on_failure(tmp_path):
    target = tmp_path / "new" / "deeper" / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_write(target):
            raise RuntimeError("input turned out to be bad")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError):
        with atomic_write(tmp_path / "kept" / "out.txt"):
            raise RuntimeError
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]  # a folder that was there stays


# ---- outputs: checks before work, several files at once, devices, locks ------------------------------
def test_check_writable_wants_a_writable_folder_with_room(tmp_path):
    from textkit.io import check_writable

    check_writable(tmp_path / "new" / "deeper" / "out.txt")  # the nearest existing folder is checked
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    with pytest.raises(OutputError, match="not enough space"):
        check_writable(tmp_path / "out.txt", need_bytes=free * 2 + 1)
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="not a folder"):
        check_writable(tmp_path / "file" / "out.txt")


def test_atomic_paths_are_all_or_nothing(tmp_path):
    from textkit.io import atomic_paths

    a, b = tmp_path / "m.model", tmp_path / "sub" / "m.vocab"
    with pytest.raises(RuntimeError):
        with atomic_paths([a, b]) as (ta, tb):
            ta.write_text("model")
            tb.write_text("vocab")
            raise RuntimeError("failed after writing both")
    assert list(tmp_path.iterdir()) == []  # neither file, no temporary, no folder made for them
    with atomic_paths([a, b]) as (ta, tb):
        ta.write_text("model")
        tb.write_text("vocab")
    assert a.read_text() == "model" and b.read_text() == "vocab"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["m.model", "m.vocab", "sub"]


def test_a_device_is_written_in_place_never_replaced():
    with atomic_write("/dev/null") as f:
        f.write("gone\n")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_claim_output_is_exclusive_between_processes(tmp_path):
    import subprocess
    import sys

    from textkit.io import claim_output, release_output

    out = tmp_path / "out.txt"
    claim_output(out)
    claim_output(out)  # the same process may claim again
    other = [sys.executable, "-c", f"from textkit.io import claim_output; claim_output({str(out)!r})"]
    try:
        result = subprocess.run(other, capture_output=True, timeout=60)
        assert result.returncode == 1 and b"another process is writing" in result.stderr
    finally:
        release_output(out)
    assert subprocess.run(other, capture_output=True, timeout=60).returncode == 0


def test_released_output_locks_leave_no_file_and_stay_exclusive(tmp_path):
    import subprocess
    import sys

    from textkit import io as tkio

    out = tmp_path / "out.txt"
    tkio.claim_output(out)
    lock = tkio._CLAIMS[os.path.abspath(out)][1]
    assert lock.exists()
    tkio.release_output(out)
    assert not lock.exists()  # lock files do not pile up in the temporary folder

    # processes racing to claim and release: a holder creates a marker file exclusively, which fails
    # if a second holder were inside at the same time (the unlink-on-release must not break the lock)
    code = (
        "import os, sys\n"
        "from textkit.io import OutputError, claim_output, release_output\n"
        "out, mark = sys.argv[1], sys.argv[2]\n"
        "for i in range(150):\n"
        "    try:\n"
        "        claim_output(out)\n"
        "    except OutputError:\n"
        "        continue\n"
        "    os.close(os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY))\n"
        "    os.unlink(mark)\n"
        "    release_output(out)\n"
    )
    mark = tmp_path / "inside"
    args = [sys.executable, "-c", code, str(out), str(mark)]
    procs = [subprocess.Popen(args, stderr=subprocess.PIPE) for _ in range(3)]
    results = [(p.wait(timeout=120), p.stderr.read().decode()) for p in procs]
    assert all(rc == 0 for rc, _ in results), results
    assert not lock.exists()


def test_signals_deferred_holds_ctrl_c_to_the_end_of_the_block():
    import signal

    from textkit.io import signals_deferred

    done = []
    with pytest.raises(KeyboardInterrupt):
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("the block finished")
    assert done == ["the block finished"]


def test_pretty_json_is_jsons_indented_text():
    import json

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from textkit.io import pretty_json

    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5))
    keys = st.one_of(st.text(max_size=3), st.integers())
    values = st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=20
    )

    @settings(max_examples=300, deadline=None)
    @given(values)
    def same(obj):
        assert pretty_json(obj) == json.dumps(obj, ensure_ascii=False, indent=1)

    same()
