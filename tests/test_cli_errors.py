"""The CLI's promise, subcommand by subcommand: a user error (GanforgeError, argparse) exits 2 with one line naming
the culprit and no traceback; an internal error keeps its traceback and does not exit 2."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ganforge.api
from ganforge.cli import main
from conftest import run_cli

ROOT = Path(__file__).parent.parent
DIGITS = ROOT / "configs" / "dcgan-digits.yaml"
TINY = ["train.steps=2", "train.batch_size=8", "log.progress=false", "log.tensorboard=false", "eval.final=false",
        "train.threads=1", "nets.G.args.base=8", "nets.D.args.base=8", "doctor.enabled=false"]


def _copy_run(src: Path, dst: Path, **files: str) -> Path:
    """A copy of a run with some files replaced (name → text or bytes; None deletes)."""
    shutil.copytree(src, dst)
    for name, text in files.items():
        path = dst / name.replace("__", "/")
        if text is None:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        elif isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    return dst


def _samples_files(d: Path) -> None:
    """Hostile --samples files for `evaluate`."""
    images = np.zeros((8, 28, 28, 1), np.uint8)
    np.savez(d / "object.npz", images=np.array([object(), 1], dtype=object))
    (d / "empty.npz").write_bytes(b"")
    (d / "text.npz").write_text("not an archive")
    np.savez(d / "good.npz", images=images)
    good = (d / "good.npz").read_bytes()
    (d / "truncated.npz").write_bytes(good[: len(good) // 2])
    np.save(d / "plain.npy", images)
    np.savez(d / "float.npz", images=images.astype(np.float32))
    np.savez(d / "hw.npz", images=images[..., 0])
    np.savez(d / "few.npz", images=images[:3])
    np.savez(d / "nolabel.npz", pixels=images)
    np.savez(d / "labels7.npz", images=images, labels=np.zeros(7, np.int64))
    np.savez(d / "labelsf.npz", images=images, labels=np.zeros(8, np.float32))
    np.savez(d / "labelsneg.npz", images=images, labels=-np.ones(8, np.int64))
    np.savez(d / "nan.npz", points=np.full((10, 2), np.nan, np.float32))
    np.savez(d / "3d.npz", points=np.zeros((10, 3), np.float32))
    np.savez(d / "intpoints.npz", points=np.zeros((10, 2), np.int64))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """One tiny image run (digits DCGAN), one tiny conditional 2-D run (cGAN on ring8), and their broken copies."""
    d = tmp_path_factory.mktemp("cli_errors")
    assert main(["train", str(DIGITS), "--out", str(d / "image"), *TINY]) == 0
    assert main(["train", str(ROOT / "configs" / "gan-ring8.yaml"), "--out", str(d / "cond2d"), "family=cgan",
                 *TINY[:-3], "doctor.enabled=false"]) == 0
    image = d / "image"
    _copy_run(image, d / "nockpt", checkpoints=None)
    _copy_run(image, d / "cfg_yaml", **{"config.yaml": "family: [unclosed\n"})
    _copy_run(image, d / "cfg_list", **{"config.yaml": "- 1\n- 2\n"})
    _copy_run(image, d / "cfg_key", **{"config.yaml": "family: gan\ntrain: {stepz: 3}\n"})
    _copy_run(image, d / "cfg_none", **{"config.yaml": None})
    _copy_run(image, d / "cfg_binary", **{"config.yaml": b"\xff\xfe\x00bad"})
    _copy_run(image, d / "json_bad", **{"run.json": "{not json"})
    _copy_run(image, d / "json_list", **{"run.json": "[1, 2]"})
    _copy_run(image, d / "json_keys", **{"run.json": '{"family": "gan"}'})
    info = json.loads((image / "run.json").read_text()) | {"shape": [1, 16]}
    _copy_run(image, d / "json_shape", **{"run.json": json.dumps(info)})
    _copy_run(image, d / "weights", **{"checkpoints__latest": None,
                                       "checkpoints__step_00000002__weights.safetensors": "garbage"})
    (d / "afile").write_text("not a folder")
    (d / "adir").mkdir()
    (d / "list.yaml").write_text("- a\n- b\n")
    (d / "bad.yaml").write_text("family: [unclosed\n")
    (d / "badkey.yaml").write_text("family: gan\ntrain: {stepz: 3}\n")
    (d / "binary.yaml").write_bytes(b"\xff\xfe\x00bad")
    _samples_files(d)
    return d


# (id, argv with {d} for the fixture's folder, a fragment the message must hold)
CASES = [
    # train
    ("train-config-missing", ["train", "{d}/nope.yaml"], "nope.yaml"),
    ("train-config-dir", ["train", "{d}/adir"], "adir"),
    ("train-config-list", ["train", "{d}/list.yaml"], "mapping"),
    ("train-config-yaml", ["train", "{d}/bad.yaml"], "YAML"),
    ("train-config-key", ["train", "{d}/badkey.yaml"], "stepz"),
    ("train-config-binary", ["train", "{d}/binary.yaml"], "binary.yaml"),
    ("train-override", ["train", str(DIGITS), "--out", "{d}/x", "train.stepz=3"], "stepz"),
    ("train-out-file", ["train", str(DIGITS), "--out", "{d}/afile", *TINY], "afile"),
    ("train-out-under-file", ["train", str(DIGITS), "--out", "{d}/afile/run", *TINY], "afile"),
    ("train-out-holds-run", ["train", str(DIGITS), "--out", "{d}/image", *TINY], "--resume"),
    ("train-steps-0", ["train", "--steps", "0"], "--steps"),
    ("train-steps-word", ["train", "--steps", "many"], "--steps"),
    ("train-budget-nan", ["train", "--time-budget", "nan"], "--time-budget"),
    ("train-labels-0", ["train", "--labels-per-class", "0"], "--labels-per-class"),
    ("train-seed-neg", ["train", "--seed", "-3"], "--seed"),
    ("train-two-configs", ["train", "a.yaml", "b.yaml"], "one CONFIG"),
    ("train-unknown-flag", ["train", "--stepz", "3"], "--stepz"),
    ("train-resume-missing", ["train", "--resume", "{d}/nope"], "nope"),
    ("train-resume-file", ["train", "--resume", "{d}/afile"], "afile"),
    ("train-resume-nockpt", ["train", "--resume", "{d}/nockpt"], "no checkpoint"),
    ("train-resume-cfg-yaml", ["train", "--resume", "{d}/cfg_yaml"], "config.yaml"),
    ("train-resume-cfg-list", ["train", "--resume", "{d}/cfg_list"], "config.yaml"),
    ("train-resume-and-config", ["train", str(DIGITS), "--resume", "{d}/image"], "not both"),
    ("train-resume-and-out", ["train", "--resume", "{d}/image", "--out", "{d}/y"], "not both"),
    # sample
    ("sample-num-neg", ["sample", "{d}/image", "--num", "-5", "--out", "{d}/s.npz"], "--num"),
    ("sample-num-0", ["sample", "{d}/image", "--num", "0", "--out", "{d}/s.npz"], "--num"),
    ("sample-num-word", ["sample", "{d}/image", "--num", "ten", "--out", "{d}/s.npz"], "--num"),
    ("sample-seed-neg", ["sample", "{d}/image", "--seed", "-1", "--out", "{d}/s.npz"], "--seed"),
    ("sample-no-out", ["sample", "{d}/image"], "--out"),
    ("sample-missing", ["sample", "{d}/nope", "--out", "{d}/s.npz"], "nope"),
    ("sample-file", ["sample", "{d}/afile", "--out", "{d}/s.npz"], "afile"),
    ("sample-empty-dir", ["sample", "{d}/adir", "--out", "{d}/s.npz"], "adir"),
    ("sample-nockpt", ["sample", "{d}/nockpt", "--out", "{d}/s.npz"], "no checkpoint"),
    ("sample-cfg-yaml", ["sample", "{d}/cfg_yaml", "--out", "{d}/s.npz"], "config.yaml"),
    ("sample-cfg-list", ["sample", "{d}/cfg_list", "--out", "{d}/s.npz"], "config.yaml"),
    ("sample-cfg-key", ["sample", "{d}/cfg_key", "--out", "{d}/s.npz"], "stepz"),
    ("sample-cfg-none", ["sample", "{d}/cfg_none", "--out", "{d}/s.npz"], "config.yaml"),
    ("sample-cfg-binary", ["sample", "{d}/cfg_binary", "--out", "{d}/s.npz"], "config.yaml"),
    ("sample-json-bad", ["sample", "{d}/json_bad", "--out", "{d}/s.npz"], "run.json"),
    ("sample-json-list", ["sample", "{d}/json_list", "--out", "{d}/s.npz"], "run.json"),
    ("sample-json-keys", ["sample", "{d}/json_keys", "--out", "{d}/s.npz"], "run.json"),
    ("sample-json-shape", ["sample", "{d}/json_shape", "--out", "{d}/s.npz"], "shape"),
    ("sample-bad-weights", ["sample", "{d}/weights", "--out", "{d}/s.npz"], "weights.safetensors"),
    ("sample-class-uncond", ["sample", "{d}/image", "--class", "1", "--out", "{d}/s.npz"], "conditional"),
    ("sample-balanced-uncond", ["sample", "{d}/image", "--class-balanced", "--out", "{d}/s.npz"], "conditional"),
    ("sample-class-range", ["sample", "{d}/cond2d", "--class", "8", "--out", "{d}/s.npz"], "class 8 out of range"),
    ("sample-class-neg", ["sample", "{d}/cond2d", "--class", "-1", "--out", "{d}/s.npz"], "--class"),
    ("sample-out-dir", ["sample", "{d}/image", "--out", "{d}/adir"], "adir"),
    ("sample-out-under-file", ["sample", "{d}/image", "--out", "{d}/afile/s.npz"], "afile"),
    ("sample-grid-under-file", ["sample", "{d}/image", "--out", "{d}/s.npz", "--grid", "{d}/afile/g.png"], "--grid"),
    ("sample-grid-vector", ["sample", "{d}/cond2d", "--out", "{d}/s.npz", "--grid", "{d}/g.png"], "vector"),
    # interpolate
    ("interp-rows-0", ["interpolate", "{d}/image", "--rows", "0", "--out", "{d}/i.png"], "--rows"),
    ("interp-steps-1", ["interpolate", "{d}/image", "--steps", "1", "--out", "{d}/i.png"], "--steps"),
    ("interp-method", ["interpolate", "{d}/image", "--method", "cubic", "--out", "{d}/i.png"], "--method"),
    ("interp-missing", ["interpolate", "{d}/nope", "--out", "{d}/i.png"], "nope"),
    ("interp-vector", ["interpolate", "{d}/cond2d", "--out", "{d}/i.png"], "vector"),
    ("interp-class-uncond", ["interpolate", "{d}/image", "--class", "2", "--out", "{d}/i.png"], "conditional"),
    ("interp-out-dir", ["interpolate", "{d}/image", "--out", "{d}/adir"], "adir"),
    ("interp-out-under-file", ["interpolate", "{d}/image", "--out", "{d}/afile/i.png"], "afile"),
    # arithmetic
    ("arith-index-range", ["arithmetic", "{d}/image", "--plus", "1,64", "--out", "{d}/a.png"], "64"),
    ("arith-index-num", ["arithmetic", "{d}/image", "--num", "5", "--plus", "0,5", "--out", "{d}/a.png"], "--num 5"),
    ("arith-minus-range", ["arithmetic", "{d}/image", "--num", "4", "--plus", "0", "--minus", "9", "--out",
                           "{d}/a.png"], "--minus index 9"),
    ("arith-index-neg", ["arithmetic", "{d}/image", "--plus=-1,2", "--out", "{d}/a.png"], "--plus"),
    ("arith-index-word", ["arithmetic", "{d}/image", "--plus", "0,x", "--out", "{d}/a.png"], "--plus"),
    ("arith-empty-group", ["arithmetic", "{d}/image", "--plus", ",", "--out", "{d}/a.png"], "--plus"),
    ("arith-no-plus", ["arithmetic", "{d}/image", "--out", "{d}/a.png"], "--plus"),
    ("arith-num-0", ["arithmetic", "{d}/image", "--num", "0", "--plus", "0", "--out", "{d}/a.png"], "--num"),
    ("arith-variations-0", ["arithmetic", "{d}/image", "--plus", "0", "--variations", "0", "--out", "{d}/a.png"],
     "--variations"),
    ("arith-noise-neg", ["arithmetic", "{d}/image", "--plus", "0", "--noise", "-0.5", "--out", "{d}/a.png"], "--noise"),
    ("arith-noise-inf", ["arithmetic", "{d}/image", "--plus", "0", "--noise", "inf", "--out", "{d}/a.png"], "--noise"),
    ("arith-vector", ["arithmetic", "{d}/cond2d", "--plus", "0", "--class", "1", "--out", "{d}/a.png"], "vector"),
    ("arith-class-uncond", ["arithmetic", "{d}/image", "--plus", "0", "--class", "1", "--out", "{d}/a.png"],
     "conditional"),
    ("arith-out-under-file", ["arithmetic", "{d}/image", "--plus", "0", "--out", "{d}/afile/a.png"], "afile"),
    # encode / reconstruct
    ("encode-no-encoder", ["encode", "{d}/image", "--out", "{d}/z.npz"], "encoder"),
    ("encode-num-0", ["encode", "{d}/image", "--num", "0", "--out", "{d}/z.npz"], "--num"),
    ("encode-missing", ["encode", "{d}/nope", "--out", "{d}/z.npz"], "nope"),
    ("encode-split", ["encode", "{d}/image", "--split", "val", "--out", "{d}/z.npz"], "--split"),
    ("encode-out-dir", ["encode", "{d}/image", "--out", "{d}/adir"], "adir"),
    ("reconstruct-no-encoder", ["reconstruct", "{d}/image", "--out", "{d}/r.png"], "encoder"),
    ("reconstruct-num-neg", ["reconstruct", "{d}/image", "--num", "-2", "--out", "{d}/r.png"], "--num"),
    ("reconstruct-nockpt", ["reconstruct", "{d}/nockpt", "--out", "{d}/r.png"], "no checkpoint"),
    # info
    ("info-missing", ["info", "{d}/nope"], "nope"),
    ("info-file", ["info", "{d}/afile"], "afile"),
    ("info-nockpt", ["info", "{d}/nockpt"], "no checkpoint"),
    ("info-cfg-yaml", ["info", "{d}/cfg_yaml"], "config.yaml"),
    ("info-json-bad", ["info", "{d}/json_bad"], "run.json"),
    ("info-json-keys", ["info", "{d}/json_keys"], "run.json"),
    ("info-no-run-dir", ["info"], "run_dir"),
    # evaluate
    ("eval-object", ["evaluate", "--samples", "{d}/object.npz", "--dataset", "fashion-mnist"], "object array"),
    ("eval-empty", ["evaluate", "--samples", "{d}/empty.npz", "--dataset", "fashion-mnist"], "empty"),
    ("eval-text", ["evaluate", "--samples", "{d}/text.npz", "--dataset", "fashion-mnist"], "not an .npz"),
    ("eval-truncated", ["evaluate", "--samples", "{d}/truncated.npz", "--dataset", "fashion-mnist"], "truncated"),
    ("eval-npy", ["evaluate", "--samples", "{d}/plain.npy", "--dataset", "fashion-mnist"], "plain.npy"),
    ("eval-missing-file", ["evaluate", "--samples", "{d}/nope.npz", "--dataset", "fashion-mnist"], "not found"),
    ("eval-dir", ["evaluate", "--samples", "{d}/adir", "--dataset", "fashion-mnist"], "folder"),
    ("eval-float", ["evaluate", "--samples", "{d}/float.npz", "--dataset", "fashion-mnist"], "uint8"),
    ("eval-hw", ["evaluate", "--samples", "{d}/hw.npz", "--dataset", "fashion-mnist"], "(N, H, W, C)"),
    ("eval-few", ["evaluate", "--samples", "{d}/few.npz", "--dataset", "fashion-mnist"], "too few"),
    ("eval-no-array", ["evaluate", "--samples", "{d}/nolabel.npz", "--dataset", "fashion-mnist"], "pixels"),
    ("eval-labels-len", ["evaluate", "--samples", "{d}/labels7.npz", "--dataset", "fashion-mnist"], "7 labels"),
    ("eval-labels-float", ["evaluate", "--samples", "{d}/labelsf.npz", "--dataset", "fashion-mnist"], "labels"),
    ("eval-labels-neg", ["evaluate", "--samples", "{d}/labelsneg.npz", "--dataset", "fashion-mnist"], "labels"),
    ("eval-nan-points", ["evaluate", "--samples", "{d}/nan.npz", "--dataset", "ring8"], "NaN"),
    ("eval-3d-points", ["evaluate", "--samples", "{d}/3d.npz", "--dataset", "ring8"], "dimension 3"),
    ("eval-int-points", ["evaluate", "--samples", "{d}/intpoints.npz", "--dataset", "ring8"], "floats"),
    ("eval-no-dataset", ["evaluate", "--samples", "{d}/good.npz"], "--dataset"),
    ("eval-unknown-dataset", ["evaluate", "--samples", "{d}/good.npz", "--dataset", "nosuch"], "nosuch"),
    ("eval-unknown-metric", ["evaluate", "--samples", "{d}/good.npz", "--dataset", "fashion-mnist", "--metrics",
                             "fid,fud"], "fud"),
    ("eval-both", ["evaluate", "{d}/image", "--samples", "{d}/good.npz", "--dataset", "fashion-mnist"], "not both"),
    ("eval-neither", ["evaluate"], "RUN_DIR"),
    ("eval-num-1", ["evaluate", "{d}/image", "--num", "1"], "--num"),
    ("eval-num-few", ["evaluate", "{d}/image", "--num", "3"], "too few"),
    ("eval-ref-1", ["evaluate", "{d}/image", "--num-reference", "1"], "--num-reference"),
    ("eval-missing-run", ["evaluate", "{d}/nope"], "nope"),
    ("eval-nockpt", ["evaluate", "{d}/nockpt"], "no checkpoint"),
    ("eval-digits", ["evaluate", "{d}/image", "--num", "10"], "digits"),
    ("eval-evaluator-missing", ["evaluate", "{d}/image", "--evaluator", "{d}/nope.safetensors"], "nope.safetensors"),
    ("eval-inception-missing", ["evaluate", "{d}/image", "--inception-weights", "{d}/nope.pth"], "nope.pth"),
    ("eval-run-with-data", ["evaluate", "{d}/image", "--data", "{d}"], "--data"),
    ("eval-two-inceptions", ["evaluate", "{d}/image", "--inception", "--inception-weights", "{d}/w.pth"],
     "not allowed with"),
    # evaluator train
    ("evaluator-no-data", ["evaluator", "train", "--out", "{d}/e.safetensors"], "--data"),
    ("evaluator-missing-data", ["evaluator", "train", "--data", "{d}/nope", "--out", "{d}/e.safetensors"], "nope"),
    ("evaluator-bad-out", ["evaluator", "train", "--dataset", "digits", "--out", "{d}/e.pt"], ".safetensors"),
    ("evaluator-minutes-0", ["evaluator", "train", "--dataset", "digits", "--minutes", "0", "--out", "{d}/e.safetensors"],
     "--minutes"),
    ("evaluator-both-budgets", ["evaluator", "train", "--dataset", "digits", "--minutes", "1", "--epochs", "2",
                                "--out", "{d}/e.safetensors"], "not allowed with"),
    ("evaluator-held-out", ["evaluator", "train", "--dataset", "digits", "--held-out", "0.9",
                            "--out", "{d}/e.safetensors"], "--held-out"),
    ("evaluator-vectors", ["evaluator", "train", "--dataset", "ring8", "--out", "{d}/e.safetensors"], "images"),
    # list and the top level
    ("list-extra", ["list", "extra"], "extra"),
    ("no-command", [], "command"),
    ("unknown-command", ["smaple"], "smaple"),
]
# a config error may list several keys under its heading, or show where the YAML breaks: a few lines, no more
MULTILINE = {"train-config-key", "sample-cfg-key", "train-config-yaml"}


@pytest.mark.parametrize("argv, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_user_error_exits_2_with_one_line_and_no_traceback(env, capsys, request, argv, fragment):
    rc, err, _ = run_cli([a.replace("{d}", str(env)) for a in argv], capsys)
    assert rc == 2, err
    assert "Traceback" not in err and fragment in err, err
    lines = err.strip().splitlines()
    if lines[0].startswith("usage:"):  # argparse: usage, then its one error line
        assert lines[-1].startswith("ganforge") and ": error: " in lines[-1], err
    else:
        assert lines[0].startswith("ganforge: error: "), err
        assert len(lines) == 1 or (request.node.callspec.id in MULTILINE and len(lines) <= 10), err


def test_no_empty_or_partial_output_is_left_by_refused_commands(env, capsys):
    for argv in (["sample", env / "image", "--num", "0", "--out", env / "zero.npz"],
                 ["interpolate", env / "cond2d", "--out", env / "walk.png"]):
        assert run_cli(argv, capsys)[0] == 2
    assert not (env / "zero.npz").exists() and not (env / "walk.png").exists()


def test_the_fixture_runs_work(env, capsys, tmp_path):
    """The broken cases fail for their own reason: the same commands on the intact runs succeed."""
    rc, _, out = run_cli(["sample", env / "image", "--num", "1", "--out", tmp_path / "one"], capsys)
    assert rc == 0 and "one.npz" in out  # numpy adds the suffix, and the message says so
    assert np.load(tmp_path / "one.npz")["images"].shape[0] == 1
    assert run_cli(["sample", env / "cond2d", "--num", "3", "--class", "7", "--out", tmp_path / "c.npz"], capsys)[0] == 0
    assert run_cli(["arithmetic", env / "image", "--num", "5", "--plus", "0,4", "--variations", "1", "--noise", "0",
                    "--out", tmp_path / "a.png"], capsys)[0] == 0
    assert run_cli(["interpolate", env / "image", "--rows", "1", "--steps", "2", "--out", tmp_path / "i.png"], capsys)[0] == 0
    assert run_cli(["info", env / "image"], capsys)[0] == 0


def test_an_internal_error_keeps_its_traceback(env, monkeypatch, tmp_path):
    """A bug deep inside is not dressed up as a user error: main lets it propagate."""
    def broken(*args, **kwargs):
        raise RuntimeError("a bug deep inside")

    monkeypatch.setattr(ganforge.api.Generator, "generate", broken)
    with pytest.raises(RuntimeError, match="a bug deep inside"):
        main(["sample", str(env / "image"), "--num", "2", "--out", str(tmp_path / "s.npz")])


def _ganforge(args: list, cwd: Path, code: str | None = None) -> subprocess.CompletedProcess:
    """The real command in a fresh interpreter: `python -m ganforge.cli ARGS`, or CODE before main(ARGS)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    argv = [str(a) for a in args]
    cmd = ([sys.executable, "-c", f"{code}\nimport sys\nfrom ganforge.cli import main\nsys.exit(main({argv!r}))"]
           if code else [sys.executable, "-m", "ganforge.cli", *argv])
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("args, fragment", [
    (["sample", "{d}/image", "--num", "-5", "--out", "{d}/s.npz"], "--num"),
    (["evaluate", "--samples", "{d}/object.npz", "--dataset", "fashion-mnist"], "object array"),
    (["info", "{d}/json_keys"], "run.json"),
], ids=["argparse", "object-npz", "corrupt-run"])
def test_user_errors_end_to_end(env, args, fragment):
    p = _ganforge([a.replace("{d}", str(env)) for a in args], cwd=env)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and fragment in p.stderr, p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("ganforge"), p.stderr


@pytest.mark.slow
def test_internal_error_end_to_end_exits_1_with_a_traceback(env):
    boom = "import ganforge.api\ndef boom(*a, **k): raise RuntimeError('a bug deep inside')\n" \
           "ganforge.api.Generator.generate = boom"
    p = _ganforge(["sample", env / "image", "--num", "2", "--out", env / "boom.npz"], cwd=env, code=boom)
    assert p.returncode == 1, p.stderr
    assert "Traceback" in p.stderr and "RuntimeError: a bug deep inside" in p.stderr
    assert "ganforge: error" not in p.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ganforge") is None, reason="the console script is not installed")
def test_the_console_script_keeps_the_promise(env):
    p = subprocess.run(["ganforge", "sample", str(env / "nope"), "--out", str(env / "s.npz")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == f"ganforge: error: {env / 'nope'}: no such run directory"


def test_counts_in_messages_take_the_right_number():
    from ganforge.cli.output import counted
    assert counted(1, "shard") == "1 shard" and counted(3, "shard") == "3 shards"
    assert counted(1, "class", "classes") == "1 class" and counted(0, "class", "classes") == "0 classes"
