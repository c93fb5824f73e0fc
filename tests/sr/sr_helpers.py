"""Helpers shared by the SR tests."""

import torch

from sparkgan.sr.nets import SRResNet


def tiny_generator(scale: int = 4, blocks: int = 1, seed: int = 0) -> SRResNet:
    """Build a small generator whose network part visibly changes the bicubic skip."""
    torch.manual_seed(seed)
    generator = SRResNet(scale, width=8, blocks=blocks, upsample_width=4)
    with torch.no_grad():
        # The last layer starts at zero (the bicubic baseline); give it weights.
        torch.nn.init.normal_(generator.tail.weight, std=0.2)
        for parameter in generator.parameters():
            parameter.mul_(1.5)
    return generator.eval()
