"""Train ``transformer_seq2seq`` on a string task, and run a trained one on a person's text.

Teacher forcing (the decoder reads the true previous characters), cross-entropy over the next
character with ``[PAD]`` ignored, AdamW (Loshchilov & Hutter 2017, https://arxiv.org/abs/1711.05101)
with a linear warm-up and cosine decay. Validation pairs come from another seed and leave out any
source seen in training; two numbers are reported: token accuracy (teacher-forced argmax equals
the target, over real positions, ``[EOS]`` included) and sequence accuracy (greedy decoding, exact
match of the whole output).

A model this small trains faster on one CPU thread than on two: each step is a few hundred tiny
matrix products, and split over threads each waits for the slowest (measured on a 2-core machine
shared with other work, one ``reverse`` epoch: 4.2 s on 1 thread, 23 s on 2). CPU training runs
on one thread and puts the process-wide thread count back afterwards.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from playground.bundle import Bundle, ModelCard
from playground.core.device import cpu_threads, pick_device
from playground.modalities.seq2seq.tasks import (
    DIGITS,
    EOS_ID,
    LETTERS,
    PAD_ID,
    TASKS,
    Seq2SeqPreprocessing,
    make_examples,
    preprocessing_for,
)
from playground.models import MODELS
from playground.models.seq2seq import Seq2SeqTransformer
from playground.training.skeleton import (
    EpochStats,
    LoopOutcome,
    LoopSettings,
    ProgressCallback,
    on_device,
    progress_reporter,
    run_epochs,
)

ARCHITECTURE = "transformer_seq2seq"
VAL_SEED_OFFSET = 1_000_003  # validation pairs come from seed + this


@dataclass(frozen=True)
class Seq2SeqTrainConfig:
    """How one task trains by default (the smallest run that learns it reliably here).

    Attributes:
        epochs: passes over the training pairs.
        num_examples: training pairs generated.
        batch_size: pairs per step.
        lr: AdamW peak learning rate (after a 5 % linear warm-up, cosine decay to 10 % of it).
        min_length: shortest source.
        max_length: longest source (``add``: see :func:`~playground.modalities.seq2seq.tasks.make_examples`).
        num_val: validation pairs.
        alphabet: the characters sources are drawn from (``add`` always uses digits).
        hparams: ``transformer_seq2seq`` hyper-parameters overriding the registry defaults.
    """

    epochs: int = 6
    num_examples: int = 4000
    batch_size: int = 64
    lr: float = 1e-2
    min_length: int = 3
    max_length: int = 8
    num_val: int = 256
    alphabet: str = DIGITS + LETTERS
    hparams: dict[str, Any] = field(default_factory=dict)


# The smallest runs found that learn each task here (2-core CPU shared with other work, 1 thread):
# reverse, seeds 0 / 1 / 2: val token accuracy 1.000 / 0.999 / 0.998, the last decoder layer's
# head-averaged cross-attention 0.88 / 0.91 / 0.90 on the anti-diagonal, 23-25 s. copy: 1.000 in 26 s.
# sort (10 epochs): 0.991 token, 0.949 sequence accuracy, 40 s. add (15 x 8000): 0.986 / 0.952, 108 s.
TASK_DEFAULTS: dict[str, Seq2SeqTrainConfig] = {
    "reverse": Seq2SeqTrainConfig(),
    "copy": Seq2SeqTrainConfig(),
    "sort": Seq2SeqTrainConfig(epochs=10),
    "add": Seq2SeqTrainConfig(epochs=15, num_examples=8000, alphabet=DIGITS),
}


@dataclass(frozen=True)
class Seq2SeqResult:
    """One source run through a trained model, with every attention map of the final pass.

    Attributes:
        source: the source text.
        source_tokens: its S tokens (one per character).
        output: the decoded output text (up to ``[EOS]``).
        output_tokens: the T_out generated tokens, ``"[EOS]"`` last when the model ended the output.
        cross_attention: ``(L, nh, T_out, S)`` float32 CPU; row ``t`` is what output ``t`` read.
        decoder_attention: ``(L, nh, T_out, T_out)`` float32 CPU, zero above the diagonal.
        encoder_attention: ``(L, nh, S, S)`` float32 CPU encoder self-attention.
        finished: whether the model produced ``[EOS]`` within the length limit.
    """

    source: str
    source_tokens: list[str]
    output: str
    output_tokens: list[str]
    cross_attention: torch.Tensor
    decoder_attention: torch.Tensor
    encoder_attention: torch.Tensor
    finished: bool


def _batches(pairs: list[tuple[str, str]], batch_size: int) -> Iterator[list[tuple[str, str]]]:
    for start in range(0, len(pairs), batch_size):
        yield pairs[start : start + batch_size]


def _trim(*ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Drop the columns that are padding in every row of each ``(B, T)`` tensor."""
    out = []
    for x in ids:
        width = int((x != PAD_ID).any(dim=0).nonzero().max()) + 1 if bool((x != PAD_ID).any()) else 1
        out.append(x[:, :width])
    return tuple(out)


@torch.no_grad()
def evaluate(
    model: Seq2SeqTransformer,
    preprocessing: Seq2SeqPreprocessing,
    pairs: list[tuple[str, str]],
    *,
    batch_size: int = 256,
) -> dict[str, float]:
    """Token and sequence accuracy of a model on (source, target) pairs.

    Returns:
        ``{"val_loss", "val_token_accuracy", "val_sequence_accuracy"}``: mean cross-entropy per
        real target token, the fraction of real target positions (``[EOS]`` included) whose
        teacher-forced argmax is right, and the fraction of pairs whose greedy output equals the
        target exactly; accuracies in ``[0, 1]``.

    Raises:
        ValueError: no pairs, or pairs the preprocessing refuses.
    """
    if not pairs:
        raise ValueError("expected at least one validation pair, got none")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    loss_sum, correct, tokens, exact = 0.0, 0, 0, 0
    try:
        for chunk in _batches(pairs, batch_size):
            src, tgt_in, tgt_out = (x.to(device) for x in preprocessing.encode_batch(chunk))
            logits = model(src, tgt_in)  # (B, T, V)
            real = tgt_out != PAD_ID  # (B, T)
            loss_sum += float(F.cross_entropy(logits[real], tgt_out[real], reduction="sum"))
            correct += int((logits.argmax(-1) == tgt_out)[real].sum())
            tokens += int(real.sum())
            generated = model.generate(src, preprocessing.max_target_length + 1)
            exact += sum(
                preprocessing.vocab.decode(row) == target for row, (_, target) in zip(generated.ids, chunk, strict=True)
            )
    finally:
        model.train(was_training)
    return {
        "val_loss": loss_sum / tokens,
        "val_token_accuracy": correct / tokens,
        "val_sequence_accuracy": exact / len(pairs),
    }


def train_seq2seq(
    task: str,
    *,
    epochs: int | None = None,
    num_examples: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    alphabet: str | None = None,
    seed: int = 0,
    hparams: dict[str, Any] | None = None,
    on_progress: ProgressCallback | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    stop_event: threading.Event | None = None,
    device: str = "auto",
    threads: int = 1,
) -> Bundle:
    """Train ``transformer_seq2seq`` on a synthetic task and return it as a bundle.

    Arguments left ``None`` take the task's :data:`TASK_DEFAULTS`. Training and validation pairs
    come from :func:`~playground.modalities.seq2seq.tasks.make_examples` with ``seed`` and
    ``seed + VAL_SEED_OFFSET``; validation sources also seen in training are dropped. The epochs ×
    batches skeleton (progress, stop, NaN check) is :func:`playground.training.skeleton.run_epochs`.

    Args:
        task: one of :data:`~playground.modalities.seq2seq.tasks.TASKS`.
        epochs: passes over the training pairs, ``>= 1``.
        num_examples: training pairs, ``>= 1``.
        batch_size: pairs per step, ``>= 1``.
        lr: AdamW peak learning rate, ``> 0``.
        alphabet: characters of the sources (not ``add``), from the vocabulary.
        seed: seeds the pairs, the initial weights and the shuffling.
        hparams: ``transformer_seq2seq`` hyper-parameters over the registry defaults (and the
            task's own).
        on_progress: ``on_progress(done, total, message)`` after each training batch, ``done`` and
            ``total`` counted in optimizer steps (batches) over the whole run; from the training thread.
        on_epoch: called after each epoch with its record (``epoch``, ``train_loss``,
            ``val_loss``, ``val_token_accuracy``, ``val_sequence_accuracy``, ``seconds``,
            ``complete``); from the training thread.
        stop_event: when set, training ends after the current batch; the epoch in progress is still
            evaluated and recorded (``complete: False``) and the bundle returned.
        device: ``"auto"`` (CUDA > MPS > CPU), ``"cpu"``, ``"cuda"`` or ``"mps"``.
        threads: CPU threads while training on the CPU (the previous count is restored).

    Returns:
        A :class:`~playground.bundle.Bundle` on the CPU in eval mode: the model, a
        :class:`~playground.modalities.seq2seq.tasks.Seq2SeqPreprocessing`, the V vocabulary tokens as labels,
        and a card with ``modality="seq2seq"``, ``dataset=task``, ``training``, ``metrics``
        (``val_token_accuracy``, ``val_sequence_accuracy``, ``val_loss``) and ``history``.

    Raises:
        ValueError: an unknown task, a non-positive size / rate, or an unknown hyper-parameter.
        TrainingError: the loss became NaN or infinite, or the GPU ran out of memory.
    """
    run = _resolve(task, epochs, num_examples, batch_size, lr, alphabet, threads)
    spec = MODELS.get(ARCHITECTURE)
    merged = _merged_hparams(spec.defaults, run.base.hparams, hparams)
    preprocessing = preprocessing_for(task, run.base.max_length)
    train_pairs, val_pairs = _pairs(task, run, seed)
    vocab_size = preprocessing.vocab_size
    target_device = pick_device(device)

    model, generator = _seeded_model(merged, vocab_size, seed)
    oom = f"the GPU ran out of memory with batch size {run.batch_size}; try a smaller batch size"
    with on_device(model, target_device, threads=cpu_threads(threads, target_device), oom_message=oom) as last_good:
        work = _Seq2SeqTask(model, preprocessing, train_pairs, val_pairs, generator, run, target_device)
        report, record = progress_reporter(None, on_progress), _copying(on_epoch)
        outcome = run_epochs(
            work,
            model,
            work.optimizer,
            work.settings,
            last_good,
            on_batch=report,
            on_epoch=record,
            stop_event=stop_event,
        )
        metrics = work.final_metrics(outcome.history)
    training = _training_record(task, run, seed, len(val_pairs), target_device, outcome)
    card = ModelCard(
        architecture=ARCHITECTURE,
        num_classes=vocab_size,
        modality="seq2seq",
        vocab_size=vocab_size,
        hparams=merged,
        source=spec.source,
        dataset=task,
        training=training,
        metrics=metrics,
        history=outcome.history,
        title=f"{ARCHITECTURE} · {task}",
    )
    return Bundle(model, preprocessing, preprocessing.vocab.tokens, card)


@dataclass(frozen=True)
class _Run:
    """The settings of one run: the task's defaults with the caller's choices over them."""

    base: Seq2SeqTrainConfig
    epochs: int
    num_examples: int
    batch_size: int
    lr: float
    alphabet: str


def _resolve(
    task: str,
    epochs: int | None,
    num_examples: int | None,
    batch_size: int | None,
    lr: float | None,
    alphabet: str | None,
    threads: int,
) -> _Run:
    """The run's settings (``None`` takes the task's default).

    Raises:
        ValueError: an unknown task, or a non-positive size / rate.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    base = TASK_DEFAULTS[task]
    run = _Run(
        base,
        base.epochs if epochs is None else epochs,
        base.num_examples if num_examples is None else num_examples,
        base.batch_size if batch_size is None else batch_size,
        base.lr if lr is None else lr,
        base.alphabet if alphabet is None else alphabet,
    )
    for name, value in (
        ("epochs", run.epochs),
        ("num_examples", run.num_examples),
        ("batch_size", run.batch_size),
        ("threads", threads),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not run.lr > 0:
        raise ValueError(f"lr must be positive, got {run.lr!r}")
    return run


def _merged_hparams(
    defaults: dict[str, Any], task_hparams: dict[str, Any], hparams: dict[str, Any] | None
) -> dict[str, Any]:
    """Registry defaults, then the task's, then the caller's.

    Raises:
        ValueError: a hyper-parameter the architecture does not have.
    """
    merged = {**defaults, **task_hparams, **(hparams or {})}
    unknown = set(merged) - set(defaults)
    if unknown:
        raise ValueError(f"unknown hyper-parameters for {ARCHITECTURE}: {sorted(unknown)}; known: {sorted(defaults)}")
    return merged


def _copying(on_epoch: Callable[[dict[str, Any]], None] | None) -> Callable[[dict[str, Any]], None] | None:
    """``on_epoch`` called with a copy of each record (the caller may keep or change it)."""
    if on_epoch is None:
        return None
    callback = on_epoch
    return lambda record: callback(dict(record))


def _seeded_model(hparams: dict[str, Any], vocab_size: int, seed: int) -> tuple[Seq2SeqTransformer, torch.Generator]:
    """A fresh model from ``torch.manual_seed(seed)`` (which dropout then uses too) and the shuffling generator."""
    torch.manual_seed(seed)  # initial weights and dropout
    generator = torch.Generator().manual_seed(seed)  # shuffling
    model = MODELS.get(ARCHITECTURE).builder(
        num_classes=vocab_size, vocab_size=vocab_size, input_size=None, weights=None, **hparams
    )
    assert isinstance(model, Seq2SeqTransformer)  # the registry entry builds one
    return model, generator


def _pairs(task: str, run: _Run, seed: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Training pairs from ``seed``; validation pairs from ``seed + VAL_SEED_OFFSET`` without the training sources.

    When every validation source was seen in training, the validation pairs come from ``seed + 1`` as they are.
    """
    base = run.base

    def examples(count: int, seed: int) -> list[tuple[str, str]]:
        return make_examples(
            task, count, min_length=base.min_length, max_length=base.max_length, alphabet=run.alphabet, seed=seed
        )

    train_pairs = examples(run.num_examples, seed)
    seen = {source for source, _ in train_pairs}
    val_pairs = [pair for pair in examples(base.num_val, seed + VAL_SEED_OFFSET) if pair[0] not in seen] or examples(
        base.num_val, seed + 1
    )
    return train_pairs, val_pairs


def _warmup_cosine(total_steps: int) -> Callable[[int], float]:
    """The learning-rate factor per step: linear warm-up over 5 % of the steps, then cosine decay to 10 %."""
    warmup = max(1, total_steps // 20)

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress_ = (step - warmup) / max(1, total_steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress_)))

    return lr_factor


class _Seq2SeqTask:
    """The seq2seq parts of a run: teacher-forced cross-entropy per batch, :func:`evaluate` per epoch.

    Holds the encoded training pairs, the AdamW optimizer and the loop settings (gradient clipping
    at norm 1, the warm-up / cosine schedule stepped after every batch).
    """

    def __init__(
        self,
        model: Seq2SeqTransformer,
        preprocessing: Seq2SeqPreprocessing,
        train_pairs: list[tuple[str, str]],
        val_pairs: list[tuple[str, str]],
        generator: torch.Generator,
        run: _Run,
        device: torch.device,
    ) -> None:
        self.model, self.preprocessing, self.val_pairs = model, preprocessing, val_pairs
        self.generator, self.batch_size, self.device = generator, run.batch_size, device
        self.src, self.tgt_in, self.tgt_out = preprocessing.encode_batch(train_pairs)  # (N, S), (N, T), (N, T)
        self.n = len(train_pairs)
        self.order = torch.arange(self.n)
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=run.lr, weight_decay=0.01, betas=(0.9, 0.98), foreach=True
        )
        per_epoch = math.ceil(run.num_examples / run.batch_size)
        schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _warmup_cosine(run.epochs * per_epoch))
        self.settings = LoopSettings(run.epochs, per_epoch, device, clip_grad_norm=1.0, step_scheduler=schedule)

    def start_epoch(self, epoch: int) -> None:
        self.model.train()
        self.order = torch.randperm(self.n, generator=self.generator)

    def batch_loss(self, batch: int) -> tuple[torch.Tensor, int]:
        rows = self.order[batch * self.batch_size : (batch + 1) * self.batch_size]
        src, tgt_in, tgt_out = (x.to(self.device) for x in _trim(self.src[rows], self.tgt_in[rows], self.tgt_out[rows]))
        logits = self.model(src, tgt_in)  # (B, T, V)
        vocab_size = self.preprocessing.vocab_size
        return F.cross_entropy(logits.reshape(-1, vocab_size), tgt_out.reshape(-1), ignore_index=PAD_ID), len(rows)

    def end_epoch(self, stats: EpochStats) -> dict[str, Any] | None:
        if stats.batches == 0:  # stopped before the epoch's first batch
            return None
        record: dict[str, Any] = {"epoch": stats.epoch, "train_loss": stats.batch_loss_sum / stats.batches}
        record.update(evaluate(self.model, self.preprocessing, self.val_pairs))
        record["seconds"] = time.perf_counter() - stats.started
        record["complete"] = not stats.stopped
        return record

    def after_epoch(self) -> None:
        return None

    def final_metrics(self, history: list[dict[str, Any]]) -> dict[str, float]:
        """The last record's validation numbers; the current weights evaluated when no epoch was recorded."""
        if history:
            return {k: history[-1][k] for k in ("val_loss", "val_token_accuracy", "val_sequence_accuracy")}
        return evaluate(self.model, self.preprocessing, self.val_pairs)


def _training_record(
    task: str, run: _Run, seed: int, num_val: int, device: torch.device, outcome: LoopOutcome[dict[str, Any]]
) -> dict[str, Any]:
    """The card's ``training`` entry: the task's defaults, the run's settings and how it went."""
    return {
        **asdict(run.base),
        "task": task,
        "epochs": run.epochs,
        "num_examples": run.num_examples,
        "batch_size": run.batch_size,
        "lr": run.lr,
        "alphabet": run.alphabet,
        "seed": seed,
        "val_seed": seed + VAL_SEED_OFFSET,
        "num_val": num_val,
        "optimizer": "AdamW",
        "weight_decay": 0.01,
        "schedule": "5% linear warm-up, cosine decay to 10%",
        "teacher_forcing": True,
        "device": str(device),
        "epochs_completed": len(outcome.history),
        "stopped": outcome.stopped,
    }


@torch.no_grad()
def translate(bundle: Bundle, text: str) -> Seq2SeqResult:
    """Run a trained seq2seq bundle on one source text with greedy decoding.

    Args:
        bundle: a bundle with ``modality == "seq2seq"`` (from :func:`train_seq2seq` or a checkpoint).
        text: the source, e.g. ``"12345"`` for ``reverse``.

    Returns:
        :class:`Seq2SeqResult` with the output and the final decoding pass's attention maps.

    Raises:
        ValueError: not a seq2seq bundle, or text the preprocessing refuses (empty, unknown
            characters, too long).
        TypeError: ``text`` is not a string.
    """
    preprocessing = bundle.preprocessing
    model = bundle.model
    if not isinstance(preprocessing, Seq2SeqPreprocessing) or not isinstance(model, Seq2SeqTransformer):
        raise ValueError(f"this needs a seq2seq model, but {bundle.title} takes {bundle.modality} input")
    ids, tokens = preprocessing.encode_source(text)
    device = next(model.parameters()).device
    src = ids[None].to(device)  # (1, S)
    generation = model.generate(src, min(model.max_positions, preprocessing.max_target_length + 1))
    out_ids = generation.ids[0]  # (T',)
    n_out = int((out_ids != PAD_ID).sum())  # generated tokens up to and including [EOS]
    if generation.finished[0]:
        n_out = int((out_ids == EOS_ID).nonzero()[0]) + 1
    out_ids = out_ids[:n_out]
    was_training = model.training
    model.eval()
    try:
        encoder_attention = torch.stack(model.encode(src)[2], dim=1)[0]  # (L, nh, S, S)
    finally:
        model.train(was_training)
    return Seq2SeqResult(
        source=text,
        source_tokens=tokens,
        output=preprocessing.vocab.decode(out_ids),
        output_tokens=[preprocessing.vocab.token(i) for i in out_ids.tolist()],
        cross_attention=generation.cross_attention[:, :, :n_out].float().cpu(),
        decoder_attention=generation.decoder_attention[:, :, :n_out, :n_out].float().cpu(),
        encoder_attention=encoder_attention.float().cpu(),
        finished=bool(generation.finished[0]),
    )
