"""The two reference networks, built in one place so that evaluation, finetuning and
``scripts/train_reference_models.py`` construct exactly the architecture the shipped
weights were trained on."""

from __future__ import annotations

from typing import Any

#: Scenes classes + background (detection: category ids 1..6, 0 unused).
NUM_CLASSES = 7
#: ImageNet statistics: the usual torchvision normalisation.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
#: Side the detector resizes images to (its training size); the segmenter runs at the
#: image's own resolution.
DETECTOR_SIZE = 320


def _trunk() -> Any:
    """torchvision ResNet-18 without layer4/fc: stride 16, 2.8 M parameters."""
    import torch.nn as nn
    import torchvision

    net = torchvision.models.resnet18(weights=None)
    net.layer4 = nn.Identity()
    net.fc = nn.Identity()
    return net


def build_detector(num_classes: int = NUM_CLASSES, score_thresh: float = 0.05) -> Any:
    """FCOS with P3 (stride 8), P4 (16) and P5 (32, max-pooled P4)."""
    from torchvision.models.detection import FCOS
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models.detection.fcos import FCOSHead
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    channels = 96
    backbone = BackboneWithFPN(
        _trunk(),
        return_layers={"layer2": "0", "layer3": "1"},
        in_channels_list=[128, 256],
        out_channels=channels,
        extra_blocks=LastLevelMaxPool(),
    )
    anchors = AnchorGenerator(((8,), (16,), (32,)), ((1.0,),) * 3)
    return FCOS(
        backbone,
        num_classes,
        min_size=DETECTOR_SIZE,
        max_size=DETECTOR_SIZE,
        image_mean=list(MEAN),
        image_std=list(STD),
        anchor_generator=anchors,
        head=FCOSHead(channels, 1, num_classes, num_convs=2),
        score_thresh=score_thresh,
        nms_thresh=0.6,
        detections_per_img=100,
        topk_candidates=1000,
    )


def build_segmenter(num_classes: int = NUM_CLASSES) -> Any:
    """LR-ASPP whose low-level branch reads stride-4 features (thin strokes, small objects)."""
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.segmentation.lraspp import LRASPP

    backbone = IntermediateLayerGetter(_trunk(), return_layers={"layer1": "low", "layer3": "high"})
    return LRASPP(backbone, low_channels=64, high_channels=256, num_classes=num_classes,
                  inter_channels=128)


BUILDERS = {"detection": build_detector, "segmentation": build_segmenter}
