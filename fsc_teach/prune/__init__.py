"""Pruning as three small steps: score -> select -> apply, with one mask system and one vocabulary.

* ``select``: how many (``count``), the one top-k (``keep_top``, ``top_indices``), scores (``|w|``, ``l1_norms``
  of filters, ``group_norms``) and the selections built on them: ``magnitude_masks`` (Han et al., NeurIPS 2015),
  ``select_filters`` (Li et al., ICLR 2017), ``topk_mask`` (the budgeted mask of Bai et al.'s code) and the named
  per-block ``FILTER_RATIOS``.
* ``masks``: a mask set is ``{state_dict name: bool tensor}``, True = keep. ``apply_masks_`` holds masked weights
  at zero through ``train.fit``; ``remask_`` does it in a hand-written loop (optimizer state included);
  ``structured_masks`` names every tensor a channel lives in; ``sparsity`` measures.
* ``prox``: the proximal operators of Bai et al. (AAAI 2020, Eq. 10–11) and their linear schedules.
* ``shrink``: the physically smaller network — ``prune_filters`` / ``l1_prune`` (kept filters) and ``shrink``
  (the channels a structured mask set killed) — and ``report``.

Unstructured pruning zeroes weights and keeps the network's shape; structured pruning removes filters and
rebuilds a smaller network with ``models.build_model``. Everything is importable from ``fsc_teach.prune``.
"""
from .masks import (alive_channels, apply_masks_, block_kind, channel_site, get_masks, merge_masks, prunable_weights,
                    reapply_masks_, remask_, remove_masks_, sparsity, structured_masks)
from .prox import lambda_schedule, prox_group_l2, prox_l1, sparsity_schedule
from .select import (FILTER_RATIOS, count, filter_ratios, group_norms, keep_top, l1_filter_scores, l1_norms,
                     magnitude_masks, select_filters, top_indices, topk_mask)
from .shrink import l1_prune, prune_filters, report, shrink

__all__ = [
    "prunable_weights", "magnitude_masks", "apply_masks_", "reapply_masks_", "remove_masks_", "get_masks", "remask_",
    "merge_masks", "structured_masks", "channel_site", "alive_channels", "block_kind", "sparsity", "count",
    "keep_top", "top_indices", "l1_norms", "group_norms", "l1_filter_scores", "select_filters", "topk_mask",
    "FILTER_RATIOS", "filter_ratios", "prox_l1", "prox_group_l2", "lambda_schedule", "sparsity_schedule",
    "prune_filters", "l1_prune", "shrink", "report",
]
