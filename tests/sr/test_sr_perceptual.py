import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from sparkgan.config import ConfigError
from sparkgan.sr.perceptual import VGGFeatures, perceptual_loss

_VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def _torchvision_style_state(layout=_VGG19, seed=0):
    """Random weights under torchvision's VGG key names (features.N.*, classifier.*)."""
    torch.manual_seed(seed)
    state, index, width = {}, 0, 3
    for item in layout:
        if item == "M":
            index += 1
            continue
        conv = nn.Conv2d(width, item, 3, padding=1)
        state[f"features.{index}.weight"], state[f"features.{index}.bias"] = conv.weight.data, conv.bias.data
        index, width = index + 2, item
    state["classifier.0.weight"] = torch.zeros(4, 4)
    return state


@pytest.fixture(scope="module")
def vgg19_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(_torchvision_style_state(), path)
    return path


def test_loads_torchvision_layout_up_to_layer(vgg19_file):
    vgg = VGGFeatures(vgg19_file, "conv2_2")
    # conv1_1 relu conv1_2 relu pool conv2_1 relu conv2_2: torchvision's indices 0..7.
    assert len(vgg.features) == 8
    assert isinstance(vgg.features[-1], nn.Conv2d)
    state = _torchvision_style_state()
    torch.testing.assert_close(vgg.features[7].weight, state["features.7.weight"])
    assert vgg(torch.rand(1, 3, 16, 16)).shape == (1, 128, 8, 8)


def test_conv5_4_is_the_last_conv(vgg19_file):
    vgg = VGGFeatures(vgg19_file)
    assert len(vgg.features) == 35


def test_safetensors_file_accepted(tmp_path):
    path = tmp_path / "vgg19.safetensors"
    save_file({k: v.contiguous() for k, v in _torchvision_style_state().items()}, str(path))
    assert len(VGGFeatures(path, "conv1_2").features) == 3


def test_loss_zero_only_for_equal_images(vgg19_file):
    vgg = VGGFeatures(vgg19_file, "conv2_2")
    images = torch.rand(2, 3, 16, 16)
    assert perceptual_loss(vgg, images, images).item() == 0.0
    assert perceptual_loss(vgg, images, images.flip(-1)).item() > 0.0


def test_unknown_layer_rejected(vgg19_file):
    with pytest.raises(ConfigError, match="'loss.perceptual_layer'"):
        VGGFeatures(vgg19_file, "conv6_1")


def test_missing_file_rejected(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        VGGFeatures(tmp_path / "vgg.pth")


def test_batch_norm_vgg_rejected(tmp_path):
    path = tmp_path / "vgg11.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, path)
    with pytest.raises(ConfigError, match="VGG16 has 13 and VGG19 16"):
        VGGFeatures(path)


def test_foreign_keys_rejected(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(ConfigError, match="'conv1.weight'"):
        VGGFeatures(path)
