"""Distilling a detector needs a divergence between FCOS head outputs (a detector has no
single class distribution to compare), weighted towards where the teacher sees objects."""

from __future__ import annotations

from typing import Any


def fcos_divergence(student: dict[str, Any], teacher: dict[str, Any]) -> Any:
    """How far FCOS head outputs stray from a teacher's, per teacher-detected object.

    Classification: the Bernoulli KL of each location's per-class sigmoid (FCOS scores
    classes independently), summed; centre-ness: the same for its sigmoid; box
    regression: L1 on the (stride-normalised) distances. The centre-ness and box terms
    are weighted by the teacher's confidence at the location (top class probability ×
    centre-ness), since background locations' boxes mean nothing. All sums are divided
    by the teacher's soft count of objects, as FCOS divides by its foreground count.
    """
    import torch
    import torch.nn.functional as F

    def bernoulli_kl(logits: Any, target_logits: Any) -> Any:
        p = torch.sigmoid(target_logits)
        return (F.binary_cross_entropy_with_logits(logits, p, reduction="none")
                - F.binary_cross_entropy_with_logits(target_logits, p, reduction="none"))

    s_cls, t_cls = student["cls_logits"].float(), teacher["cls_logits"].float()
    s_ctr, t_ctr = student["bbox_ctrness"].float(), teacher["bbox_ctrness"].float()
    confidence = torch.sigmoid(t_cls).amax(dim=-1) * torch.sigmoid(t_ctr[..., 0])
    count = confidence.sum().clamp(min=1.0)
    cls = bernoulli_kl(s_cls, t_cls).sum()
    ctr = (bernoulli_kl(s_ctr, t_ctr)[..., 0] * confidence).sum()
    box = ((student["bbox_regression"].float() - teacher["bbox_regression"].float()).abs()
           .sum(dim=-1) * confidence).sum()
    return (cls + ctr + box) / count
