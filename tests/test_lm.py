"""The language-model track: the fixed corpus, the byte GPT, its loss, training, sampling, distillation, its layer-wise
compression and the committed teacher — each against an independent computation."""
import copy
import hashlib
import lzma
import math
import platform
import sysconfig
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from fsc_teach import corpus, lm, text, zoo
from fsc_teach.checkpoint import load_checkpoint, save_checkpoint
from fsc_teach.layerwise import compress_blocks, compress_model
from fsc_teach.models import GPT, block_input, block_io, count_flops, count_params, linear_inputs, run_blocks
from fsc_teach.prune import count
from fsc_teach.quantize import quant_scale
from fsc_teach.reconstruct import gptq_quantize, gram, layer_inputs, sparsegpt_prune, wanda_prune
from fsc_teach.train import freeze

from helpers import clear_error

LINEARS = ["attn.q", "attn.k", "attn.v", "attn.proj", "mlp.fc", "mlp.proj"]


def _tiny(seed=0, context=16):
    torch.manual_seed(seed)
    return GPT(widths=[32, 48], width=16, heads=2, context=context).eval()


def _trained_tiny():
    """A tiny GPT after a few steps on the corpus, so that its weights and features are not the initial ones."""
    model = _tiny()
    lm.train_lm(model, text.load_split("train")[:20000], steps=40, batch_size=8, lr=1e-2, warmup=2, progress=False)
    return model.eval()


def _tokens(n=4, t=16, seed=0):
    return torch.randint(0, 256, (n, t), generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------------------------
# The corpus and its windows
# ---------------------------------------------------------------------------------------------------------------

def test_committed_corpus_matches_its_manifest_and_fits_the_budget():
    entry = corpus.manifest()
    assert corpus.verify() == []
    for split, info in entry["splits"].items():
        packed = (corpus.CORPUS_DIR / info["file"]).read_bytes()
        assert hashlib.sha256(packed).hexdigest() == info["xz_sha256"]
        data = lzma.decompress(packed)
        assert len(data) == info["bytes"] and hashlib.sha256(data).hexdigest() == info["sha256"]
        assert bytes(text.load_split(split).numpy()) == data
    assert sum(f.stat().st_size for f in corpus.CORPUS_DIR.iterdir()) <= 2 * 2**20
    assert "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2" in (corpus.CORPUS_DIR / corpus.LICENSE).read_text()


def test_splits_are_disjoint_by_file_and_follow_the_name_hash():
    files = corpus.manifest()["files"]
    assert list(files) == sorted(files) and len(files) > 100
    seen = set()
    for split in corpus.CODE_SPLITS:
        parts = text.split_files(split)
        assert parts and not seen & set(parts)
        seen |= set(parts)
        assert b"".join(parts.values()) == bytes(text.load_split(split).numpy())
        for name, data in parts.items():
            assert files[name]["split"] == split == corpus.split_of(name)
            assert hashlib.sha256(data).hexdigest() == files[name]["sha256"]
    assert seen == set(files)
    assert corpus.split_of("textwrap.py") == corpus.split_of("textwrap.py") == "calibration"


def test_prose_keeps_docstrings_and_comments_in_order_and_drops_code():
    source = b'"""Module doc."""\nimport os  # the os module\n# first line of a comment\n# goes on here\nx = 1\n' \
             b'# y = f(x)\ndef f():\n    """Do the thing.\n\n    More text.\n    """\n    return 2  # two words\n'
    assert corpus.prose(source) == (b"Module doc.\n\nthe os module\n\nfirst line of a comment goes on here\n\n"
                                    b"Do the thing.\n\nMore text.\n\ntwo words\n")


@pytest.mark.skipif(platform.python_version() != corpus.PYTHON, reason=f"the corpus is built from CPython {corpus.PYTHON}")
def test_the_build_command_reproduces_the_committed_bytes(tmp_path):
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = corpus.manifest()["files"]
    if any(hashlib.sha256((stdlib / n).read_bytes()).hexdigest() != f["sha256"] for n, f in files.items()):
        pytest.skip("this machine's stdlib files differ from the pinned ones (a patched Python)")
    rebuilt = corpus.build(stdlib, tmp_path)
    assert rebuilt["splits"] == corpus.manifest()["splits"] and rebuilt["files"] == files


def test_sample_sequences_are_seeded_windows_of_the_split_and_nest():
    tokens = text.load_split("calibration")
    a, b = text.sample_sequences(tokens, 32, 128, seed=3), text.sample_sequences(tokens, 32, 128, seed=3)
    assert a.shape == (32, 129) and a.dtype == torch.int64 and torch.equal(a, b)
    assert not torch.equal(a, text.sample_sequences(tokens, 32, 128, seed=4))
    data = bytes(tokens.numpy())
    assert all(bytes(w.tolist()) in data for w in a)  # each window is 129 consecutive bytes of the split
    small = {bytes(w.tolist()) for w in text.sample_sequences(tokens, 8, 128, seed=3)}
    assert small <= {bytes(w.tolist()) for w in a}  # the first 8 of a larger draw


@pytest.mark.parametrize("n", [2 * 16 + 1, 2 * 16 + 6, 17])
def test_eval_windows_predict_every_byte_but_the_first_exactly_once(n):
    tokens = torch.arange(n) % 256
    windows = text.eval_windows(tokens, 16)
    assert torch.equal(torch.cat([w[:, 1:].reshape(-1) for w in windows]), tokens[1:])
    assert all(w.shape[1] <= 17 for w in windows)


# ---------------------------------------------------------------------------------------------------------------
# The GPT
# ---------------------------------------------------------------------------------------------------------------

def test_the_course_gpt_has_nanogpt_shape_and_size():
    torch.manual_seed(0)
    model = GPT()
    assert model.config == dict(widths=[512] * 4, vocab_size=256, context=128, width=128, heads=4)
    assert count_params(model) == 875_520  # embeddings 49,152 + 4 blocks × 198,272 + head 33,024
    linear_weights = 4 * (4 * 128 * 128 + 2 * 128 * 512) + 128 * 256
    assert count_flops(model, (128,)) == 128 * linear_weights  # MACs of every Linear, per position
    assert [n for n, m in model.blocks[0].named_modules() if isinstance(m, torch.nn.Linear)] == LINEARS


def test_changing_later_bytes_leaves_earlier_logits_unchanged():
    model = _trained_tiny()
    x = _tokens()
    y = x.clone()
    y[:, 9:] = (y[:, 9:] + 1 + torch.arange(7)) % 256
    a, b = model(x), model(y)
    torch.testing.assert_close(a[:, :9], b[:, :9], rtol=0, atol=1e-6)
    assert (a[:, 9:] - b[:, 9:]).abs().max() > 1e-3


def test_attention_is_the_masked_softmax_written_out():
    model = _trained_tiny()
    attn, h = model.blocks[1].attn, torch.randn(3, 10, 16)
    q, k, v = (lin(h).view(3, 10, 2, 8).transpose(1, 2) for lin in (attn.q, attn.k, attn.v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(8)
    scores = scores.masked_fill(torch.triu(torch.ones(10, 10, dtype=torch.bool), 1), float("-inf"))
    expected = (scores.softmax(-1) @ v).transpose(1, 2).reshape(3, 10, 16)
    torch.testing.assert_close(attn.mix(h), expected, rtol=1e-5, atol=1e-6)


def test_block_io_ends_in_the_logits_and_run_blocks_carries_inputs():
    model, x = _trained_tiny(), _tokens()
    pairs = block_io(model, x)
    torch.testing.assert_close(model.head(pairs[-1][1]), model(x), rtol=0, atol=0)
    torch.testing.assert_close(run_blocks(model, block_input(model, x, 0), 0, 2), pairs[-1][1], rtol=0, atol=0)
    assert pairs[0][0].shape == (4, 16, 16)


def test_linear_inputs_rebuild_the_block_from_its_layers():
    model = _trained_tiny()
    block, h = model.blocks[1], block_input(model, _tokens(), 1)
    ins = linear_inputs(block, h)
    assert list(ins) == LINEARS
    mid = h + block.attn.proj(ins["attn.proj"])
    torch.testing.assert_close(mid + block.mlp.proj(ins["mlp.proj"]), block(h), rtol=0, atol=1e-6)
    torch.testing.assert_close(ins["attn.proj"], block.attn.mix(block.ln_1(h)), rtol=0, atol=0)
    torch.testing.assert_close(ins["mlp.proj"], F.gelu(block.mlp.fc(block.ln_2(mid))), rtol=0, atol=1e-6)


@pytest.mark.parametrize("upto", LINEARS)
def test_linear_inputs_upto_a_layer_are_the_prefix_of_all_of_them(upto):
    model = _trained_tiny()
    block, h = model.blocks[0], block_input(model, _tokens(), 0)
    every, some = linear_inputs(block, h), linear_inputs(block, h, upto)
    assert list(some) == LINEARS[:LINEARS.index(upto) + 1]
    for name, x in some.items():
        torch.testing.assert_close(x, every[name], rtol=0, atol=0)
    clear_error("linear_inputs", "upto", "a conv's name", lambda: linear_inputs(block, h, "conv1"))


def test_gpt_checkpoint_round_trip(tmp_path):
    model = _trained_tiny()
    loaded, meta = load_checkpoint(save_checkpoint(tmp_path / "g.pt", model, {"k": 1}))
    assert isinstance(loaded, GPT) and loaded.config == model.config and meta == {"k": 1}
    torch.testing.assert_close(loaded(_tokens()), model(_tokens()), rtol=0, atol=0)


def test_token_inputs_give_clear_errors():
    model = _tiny()
    f = "block_io"
    clear_error(f, "x", "images", lambda: block_io(model, torch.randn(2, 1, 28, 28)))
    clear_error(f, "x", "uint8 bytes", lambda: block_io(model, _tokens().to(torch.uint8)))
    clear_error(f, "x", "longer than the context", lambda: block_io(model, _tokens(t=17)))
    clear_error(f, "x", "id 300", lambda: block_io(model, torch.full((2, 4), 300)))
    clear_error("run_blocks", "h", "wrong width", lambda: run_blocks(model, torch.randn(2, 4, 8), 0, 1))
    clear_error("linear_inputs", "h", "an image batch", lambda: linear_inputs(model.blocks[0], torch.randn(2, 16, 4, 4)))
    clear_error("GPT", "width", "not a multiple of heads", lambda: GPT(width=10, heads=4))
    clear_error("count_flops", "input_size", "an image shape", lambda: count_flops(model, (1, 28, 28)))


# ---------------------------------------------------------------------------------------------------------------
# Loss, training, evaluation, sampling, distillation
# ---------------------------------------------------------------------------------------------------------------

def test_uniform_logits_cost_ln_256_per_byte():
    targets = _tokens()
    assert lm.next_byte_loss(torch.zeros(4, 16, 256), targets).item() == pytest.approx(math.log(256), abs=1e-6)
    model = _tiny()
    with torch.no_grad():
        model.head[-1].weight.zero_()
        model.head[-1].bias.zero_()
    assert lm.evaluate_lm(model, text.load_split("validation")[:1000]) == pytest.approx(lm.UNIFORM_LOSS, abs=1e-5)
    assert lm.perplexity(lm.UNIFORM_LOSS) == pytest.approx(256)


def test_the_loss_is_the_cross_entropy_written_out():
    model, windows = _trained_tiny(), _tokens(3, 17)
    loss, logits = lm.lm_loss(model, windows)
    probs = logits.detach().double().softmax(-1)
    manual = -sum(math.log(probs[b, t, windows[b, t + 1]]) for b in range(3) for t in range(16)) / 48
    assert loss.item() == pytest.approx(manual, rel=1e-5)
    assert lm.next_byte_loss(logits, windows[:, 1:]).item() == pytest.approx(manual, rel=1e-5)


def test_evaluate_lm_scores_each_byte_once_from_its_window():
    model, tokens = _trained_tiny(), text.load_split("validation")[:2 * 16 + 6]
    total = 0.0
    for start in range(0, len(tokens) - 1, 16):  # windows of 16 inputs, the last one shorter
        w = tokens[start:start + 17].long()[None]
        total += F.cross_entropy(model(w[:, :-1])[0].double(), w[0, 1:], reduction="sum").item()
    assert lm.evaluate_lm(model, tokens, batch_size=1) == pytest.approx(total / (len(tokens) - 1), rel=1e-6)


def test_train_lm_is_seeded_and_learns():
    tokens = text.load_split("train")[:20000]
    runs = []
    for seed in (0, 0, 1):
        model = _tiny()
        history = lm.train_lm(model, tokens, steps=12, batch_size=8, warmup=2, seed=seed, log_every=4, progress=False)
        runs.append((model.state_dict(), history))
    assert all(torch.equal(v, runs[1][0][k]) for k, v in runs[0][0].items())
    assert not torch.equal(runs[0][0]["head.1.weight"], runs[2][0]["head.1.weight"])
    losses = runs[0][1]["train_loss"]
    assert runs[0][1]["step"] == [4, 8, 12] and losses[-1] < losses[0] < lm.UNIFORM_LOSS + 0.1


def test_generate_is_seeded_and_greedy_is_the_argmax():
    model = _trained_tiny()
    a = lm.generate(model, b"def ", 20, seed=5)
    assert a == lm.generate(model, b"def ", 20, seed=5) and a.startswith(b"def ") and len(a) == 24
    assert a != lm.generate(model, b"def ", 20, seed=6)
    idx = list(b"import")
    for _ in range(20):  # greedy decoding by hand, context cropped to the last 16 bytes
        idx.append(int(model(torch.tensor([idx[-16:]]))[0, -1].argmax()))
    assert lm.generate(model, b"import", 20, temperature=0) == bytes(idx)


def test_distill_lm_keeps_zeros_and_moves_toward_the_teacher():
    teacher = freeze(_trained_tiny())  # as zoo.load_teacher holds it: the compressed copy arrives frozen too
    seqs = text.sample_sequences(text.load_split("calibration"), 16, 16, seed=0)
    student, _ = compress_model(None, teacher, seqs[:, :-1], "magnitude", sparsity=0.7, progress=False)
    zeros = {n: p == 0 for n, p in student.named_parameters() if p.ndim == 2 and (p == 0).any()}

    def kl(s):
        with torch.no_grad():
            return F.kl_div(s(seqs[:, :-1]).log_softmax(-1), teacher(seqs[:, :-1]).log_softmax(-1), log_target=True,
                            reduction="none").sum(-1).mean().item()

    before = kl(student)
    history = lm.distill_lm(student, teacher, seqs, steps=30, batch_size=8, lr=1e-3, progress=False)
    assert len(history["kd_loss"]) == 30 and kl(student) < 0.5 * before
    assert all(torch.equal(dict(student.named_parameters())[n] == 0, z) for n, z in zeros.items())
    copy_ = copy.deepcopy(teacher)
    assert lm.distill_lm(copy_, teacher, seqs, steps=1, progress=False)["kd_loss"][0] == pytest.approx(0, abs=1e-5)


def test_distill_lm_with_the_teachers_logits_kept_trains_as_it_does_without(monkeypatch):
    teacher = freeze(_trained_tiny())
    seqs = text.sample_sequences(text.load_split("calibration"), 12, 16, seed=1)
    runs = []
    for cache in (lm.TEACHER_CACHE_BYTES, 0):  # 0: the teacher runs on every batch
        monkeypatch.setattr(lm, "TEACHER_CACHE_BYTES", cache)
        student = compress_model(None, teacher, seqs[:, :-1], "magnitude", sparsity=0.5, progress=False)[0]
        runs.append((lm.distill_lm(student, teacher, seqs, steps=8, batch_size=4, lr=1e-3, progress=False), student))
    (h_kept, kept), (h_each, each) = runs
    assert h_kept["kd_loss"] == pytest.approx(h_each["kd_loss"], rel=1e-5)
    for a, b in zip(kept.parameters(), each.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_lm_functions_give_clear_errors():
    model, tokens = _tiny(), text.load_split("validation")[:500]
    clear_error("next_byte_loss", "targets", "wrong shape", lambda: lm.next_byte_loss(torch.zeros(2, 4, 256), _tokens()))
    clear_error("evaluate_lm", "tokens", "2-D", lambda: lm.evaluate_lm(model, _tokens()))
    clear_error("evaluate_lm", "length", "over the context", lambda: lm.evaluate_lm(model, tokens, length=17))
    clear_error("train_lm", "tokens", "too short", lambda: lm.train_lm(model, tokens[:10], steps=1, progress=False))
    clear_error("generate", "prompt", "a str", lambda: lm.generate(model, "def ", 5))
    clear_error("distill_lm", "sequences", "one byte", lambda: lm.distill_lm(model, model, _tokens(t=1), steps=1))
    clear_error("sample_sequences", "n", "0", lambda: text.sample_sequences(tokens, 0, 16))
    clear_error("load_split", "split", "'test'", lambda: text.load_split("test"))


# ---------------------------------------------------------------------------------------------------------------
# Layer-wise compression of every Linear of the blocks
# ---------------------------------------------------------------------------------------------------------------

def _calibration():
    return text.sample_sequences(text.load_split("calibration"), 12, 16, seed=1)[:, :-1]


@pytest.mark.parametrize("method, amount", [("magnitude", dict(sparsity=0.5)), ("wanda", dict(sparsity=0.7)),
                                            ("sparsegpt", dict(sparsity=0.5)), ("magnitude", dict(sparsity=0.5, nm=(2, 4))),
                                            ("wanda", dict(sparsity=0.5, nm=(2, 4))),
                                            ("sparsegpt", dict(sparsity=0.5, nm=(2, 4))),
                                            ("rtn", dict(bits=3)), ("gptq", dict(bits=4))])
def test_every_linear_gets_the_requested_sparsity_or_grid(method, amount):
    teacher, x = _trained_tiny(), _calibration()
    student, info = compress_model(None, teacher, x, method, progress=False, **amount)
    assert [r["layer"] for r in info["layers"]] == [f"blocks.{b}.{n}" for b in range(2) for n in LINEARS]
    for r in info["layers"]:
        w = student.get_submodule(r["layer"]).weight
        if "nm" in amount:
            assert ((w.reshape(len(w), -1, 4) == 0).sum(-1) == 2).all(), r["layer"]
        elif "sparsity" in amount:
            assert ((w == 0).sum(1) == count(amount["sparsity"], w.shape[1])).all(), r["layer"]
        else:
            steps = w / quant_scale(teacher.get_submodule(r["layer"]).weight, amount["bits"], per_channel=True)
            qmax = 2 ** (amount["bits"] - 1) - 1
            assert torch.allclose(steps, steps.round(), atol=1e-4) and steps.abs().max() <= qmax + 1e-4
    torch.testing.assert_close(student.head[-1].weight, teacher.head[-1].weight)  # the head stays dense
    assert math.isfinite(lm.evaluate_lm(student, text.load_split("validation")[:500]))


def test_the_sequential_pass_solves_each_linear_on_the_compressed_models_inputs():
    teacher, x = _trained_tiny(), _calibration()
    student, _ = compress_model(None, teacher, x, "sparsegpt", sparsity=0.5, calibration="student", progress=False)
    block, h = student.blocks[1], block_io(student, x)[1][0]
    with torch.no_grad():  # the block's features written out by hand, on the compressed weights
        a = block.ln_1(h)
        mixed = F.scaled_dot_product_attention(*(lin(a).view(12, 16, 2, 8).transpose(1, 2) for lin in
                                                 (block.attn.q, block.attn.k, block.attn.v)), is_causal=True)
        mixed = mixed.transpose(1, 2).reshape(12, 16, 16)
        fc_in = block.ln_2(h + block.attn.proj(mixed))
    dense = teacher.blocks[1]
    for name, inputs in (("attn.proj", mixed), ("mlp.fc", fc_in), ("attn.v", a)):
        H = gram(layer_inputs(block.get_submodule(name), inputs))
        torch.testing.assert_close(block.get_submodule(name).weight,
                                   sparsegpt_prune(dense.get_submodule(name).weight, H, 0.5), rtol=1e-4, atol=1e-6)


def test_teacher_calibration_solves_on_the_dense_inputs_and_compress_blocks_is_the_student_pass():
    teacher, x = _trained_tiny(), _calibration()
    student, _ = compress_model(None, teacher, x, "gptq", bits=3, calibration="teacher", progress=False)
    h_t = block_io(teacher, x)[1][0]
    for name, inputs in linear_inputs(teacher.blocks[1], h_t).items():
        H = gram(layer_inputs(teacher.blocks[1].get_submodule(name), inputs))
        torch.testing.assert_close(student.blocks[1].get_submodule(name).weight,
                                   gptq_quantize(teacher.blocks[1].get_submodule(name).weight, H, 3))
    reference, _ = compress_model(None, teacher, x, "wanda", sparsity=0.5, progress=False)
    model = copy.deepcopy(teacher)
    compress_blocks(model, x, "wanda", [0, 1], sparsity=0.5)
    for (k, v), w in zip(model.state_dict().items(), reference.state_dict().values()):
        torch.testing.assert_close(v, w, rtol=0, atol=0, msg=k)
    H = gram(layer_inputs(model.blocks[0].attn.q, linear_inputs(teacher.blocks[0], block_input(teacher, x, 0))["attn.q"]))
    torch.testing.assert_close(model.blocks[0].attn.q.weight, wanda_prune(teacher.blocks[0].attn.q.weight, H, 0.5))


def test_asymmetric_calibration_runs_on_the_gpt():
    teacher, x = _trained_tiny(), _calibration()
    student, info = compress_model(None, teacher, x, "sparsegpt", sparsity=0.5, calibration="asymmetric", progress=False)
    assert len(info["layers"]) == 12 and all(0 < r["relative_error"] < 1 for r in info["layers"])
    q = teacher.blocks[0].attn.q  # block 0's q sees the same inputs in both networks: the target is W itself
    H = gram(layer_inputs(q, teacher.blocks[0].ln_1(block_input(teacher, x, 0))))
    torch.testing.assert_close(student.blocks[0].attn.q.weight, sparsegpt_prune(q.weight, H, 0.5), rtol=1e-4, atol=1e-5)


def test_compressing_the_gpt_gives_clear_errors():
    teacher, x = _tiny(), _calibration()
    f = "compress_model"
    clear_error(f, "x", "images", lambda: compress_model(None, teacher, torch.randn(2, 1, 8, 8), "rtn", bits=4))
    clear_error(f, "nm", "nm to gptq", lambda: compress_model(None, teacher, x, "gptq", bits=4, nm=(2, 4)))
    clear_error(f, "sparsity", "0.7 with 2:4", lambda: compress_model(None, teacher, x, "wanda", sparsity=0.7, nm=(2, 4)))
    clear_error(f, "head", "a LayerNorm head", lambda: compress_model(None, teacher, x, "rtn", bits=4, head=True))
    clear_error("compress_blocks", "x", "uint8", lambda: compress_blocks(teacher, x.to(torch.uint8), "rtn", [0], bits=4))


# ---------------------------------------------------------------------------------------------------------------
# The committed teacher
# ---------------------------------------------------------------------------------------------------------------

def test_the_lm_teacher_is_in_the_manifest():
    entry = zoo.manifest()["gpt_pystdlib"]
    assert entry["command"] == "python -m fsc_teach.zoo train gpt_pystdlib" and entry["dataset"] == "pystdlib"
    assert entry["arch"] == "gpt" and entry["config"] == GPT().config and entry["seed"] == 0
    assert 1.0 < entry["validation_nats_per_byte"] < 2.5 and entry["train_seconds"] > 0
    assert (zoo.TEACHER_DIR / entry["file"]).stat().st_size <= 5 * 2**20


@pytest.mark.slow
def test_lm_teacher_validation_loss_is_re_measured():
    """The whole validation split (189,237 bytes): about 5 s on a 2-core CPU."""
    teacher = zoo.load_teacher("gpt_pystdlib", retrain=False)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    measured = lm.evaluate_lm(teacher, text.load_split("validation"))
    assert abs(measured - zoo.manifest()["gpt_pystdlib"]["validation_nats_per_byte"]) <= 1e-3
    assert measured < 2.0  # far below uniform guessing (5.55) and unigram statistics (about 3.3 on this code)


def test_the_zoo_trains_and_verifies_a_language_model(tmp_path, monkeypatch):
    prefix = {"validation": text.load_split("validation")[:3000]}
    monkeypatch.setattr(zoo, "load_split", lambda split: prefix.get(split, text.load_split(split)))
    monkeypatch.setitem(zoo.TEACHERS, "gpt_pystdlib", zoo.TeacherSpec(
        build=lambda: GPT([32], width=16, heads=2, context=16), dataset="pystdlib", description="tiny",
        fit_kwargs=dict(steps=3, batch_size=4, lr=1e-3, warmup=1, seed=0)))
    entry = zoo.train_teacher("gpt_pystdlib", tmp_path, progress=False)
    assert entry["dataset"] == "pystdlib" and "test_accuracy" not in entry
    result = zoo.verify(tmp_path)["gpt_pystdlib"]
    assert result["sha256_ok"] and result["metric"] == "validation_nats_per_byte"
    assert result["measured"] == pytest.approx(entry["validation_nats_per_byte"], abs=1e-6)
    clear_error("train_teacher", "epochs", "epochs to an LM", lambda: zoo.train_teacher("gpt_pystdlib", tmp_path,
                                                                                       epochs=1, progress=False))
