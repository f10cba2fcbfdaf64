"""Generic, resumable training loop shared by finetune (classification) and pretrain (masked LM).

API for tool authors::

    from bertrbp.training import TrainConfig, ArrayBatches, train

    config = TrainConfig(lr=2e-4, epochs=3, batch_size=32, grad_accum=4, save_steps=500, seed=42)
    source = ArrayBatches(input_ids=ids, attention_mask=mask, labels=labels)   # or your own BatchSource
    result = train(model, source, config, checkpoint_dir=out / "checkpoints", resume=True,
                   epoch_end=validate)          # validate(model, EpochContext) -> dict of metrics
    result.history                              # one dict per epoch: epoch, step, train_loss + your metrics

The model: any ``torch.nn.Module`` whose ``forward(**batch)`` returns an object with ``.loss`` (scalar, computed
from the ``labels`` in the batch) and ``.logits`` (Hugging Face style), e.g. ``BertForSequenceClassification``,
``BertForMaskedLM`` or ``bertrbp.cnn.CnnClassifier``.

The data: a ``BatchSource`` (``__len__`` and ``batch(indices) -> dict of CPU tensors``). The trainer draws a
permutation per epoch from (seed, epoch) alone, so the data order is reproducible. For masked LM, do the masking
inside ``batch()`` with torch's default generator (checkpointed), e.g. ``torch.rand(shape)``; never use an
unseeded private generator, or resumes stop being exact.

What ``train`` does: seeds python/numpy/torch from ``config.seed``; AdamW (eps 1e-8, weight decay on all but biases
and LayerNorm weights, fused on CUDA); linear warmup over ``warmup_ratio`` of the optimizer steps then linear decay
to 0; gradient accumulation over ``grad_accum`` batches (the last partial group of an epoch is averaged over its
real size); clipping to ``max_grad_norm``; bf16 autocast on CUDA by default (``bf16="yes"`` on CPU); pinned,
non-blocking host-to-device copies; the loss is read from the device only every ``log_every`` steps (tqdm shows
loss, sequences/s and lr). ``max_steps`` caps the run (pretraining by steps).

Checkpoints: ``checkpoint_dir/trainer_state.pt`` (model, optimizer, scheduler, RNG states, epoch, position in the
epoch's data order, history) is written atomically at every epoch end and every ``save_steps`` optimizer steps.
``resume=True`` continues from it exactly: the final weights equal an uninterrupted run's (tested); resuming with
different lr/batch/epochs/seed/min_steps settings is refused. ``epoch_end`` runs after each epoch with the model in eval
mode (return metrics; save a "best" copy yourself if you need one); ``on_step(step, loss_or_None)`` runs after
each optimizer step (loss only at logging steps). The model is left in eval mode on the training device.

Early stopping: with ``config.patience`` > 0 the run ends once ``config.early_stopping_metric`` (default
``val_loss``, lower is better, returned by ``epoch_end``) has not improved for that many epochs;
``result.stopped_early`` says so, and a resumed run stops at the same epoch (the decision is in the checkpoint).
``config.min_steps`` (the step floor) raises the planned epochs (``result.planned_epochs``) until the run has at
least that many optimizer steps, and early stopping is not considered before the floor is reached.
"""

from bertrbp.training.config import TrainConfig
from bertrbp.training.data import ArrayBatches, BatchSource, epoch_order, to_device
from bertrbp.training.optim import build_optimizer, build_scheduler, no_decay, warmup_linear
from bertrbp.training.trainer import EarlyStopping, EpochContext, TrainResult, seed_everything, train

__all__ = [
    "ArrayBatches",
    "BatchSource",
    "EarlyStopping",
    "EpochContext",
    "TrainConfig",
    "TrainResult",
    "build_optimizer",
    "build_scheduler",
    "epoch_order",
    "no_decay",
    "seed_everything",
    "to_device",
    "train",
    "warmup_linear",
]
