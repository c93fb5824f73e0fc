import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.metrics import peak_signal_noise_ratio

from sparkgan.metrics.image_quality import rgb_to_y
from sparkgan.sr.data import SRImage
from sparkgan.sr.evaluate import evaluate_model
from sparkgan.sr.model_io import SRModel
from sparkgan.sr.nets import SRResNet


def _bicubic_only_model(scale=4):
    # An untrained generator with the bicubic skip is the bicubic baseline.
    return SRModel(SRResNet(scale, width=4, blocks=1, upsample_width=4).eval(), None, "psnr")


def _pil_resize(pixels, size):
    channels = [Image.fromarray(pixels[:, :, c], mode="F").resize(size, Image.Resampling.BICUBIC) for c in range(3)]
    return np.stack([np.asarray(c) for c in channels], axis=2)


def _round8(pixels):
    return np.rint(np.clip(pixels, 0, 1) * 255) / 255


@pytest.fixture(scope="module")
def portrait():
    return SRImage("astronaut-crop", np.ascontiguousarray(data.astronaut()[40:200, 160:320]))


def test_bicubic_baseline_matches_pillow_protocol(portrait):
    evaluation = evaluate_model(_bicubic_only_model(), [portrait], channel="y", border=4)
    # The same protocol written with Pillow's bicubic filter and scikit-image's PSNR.
    hr = portrait.hr.astype(np.float32) / 255
    lr = _round8(_pil_resize(hr, (40, 40)))
    bicubic = _round8(_pil_resize(lr.astype(np.float32), (160, 160)))
    expected = peak_signal_noise_ratio(rgb_to_y(hr)[4:-4, 4:-4], rgb_to_y(bicubic)[4:-4, 4:-4], data_range=255)
    assert evaluation.images[0].psnr_bicubic == pytest.approx(expected, abs=0.01)


def test_bicubic_only_model_gains_nothing(portrait):
    evaluation = evaluate_model(_bicubic_only_model(), [portrait], channel="y", border=4)
    assert evaluation.mean("psnr_gain") == pytest.approx(0.0, abs=1e-9)
    assert evaluation.mean("ssim_gain") == pytest.approx(0.0, abs=1e-9)


def test_border_defaults_to_scale_and_means_average(portrait):
    other = SRImage("coffee-crop", np.ascontiguousarray(data.coffee()[100:196, 200:296]))
    evaluation = evaluate_model(_bicubic_only_model(2), [portrait, other], channel="rgb")
    assert evaluation.border == 2
    assert evaluation.mean("psnr_bicubic") == pytest.approx(
        (evaluation.images[0].psnr_bicubic + evaluation.images[1].psnr_bicubic) / 2
    )
    report = evaluation.as_dict()
    assert report["protocol"]["channel"] == "rgb"
    assert [image["name"] for image in report["images"]] == ["astronaut-crop", "coffee-crop"]
    assert set(report["mean"]) >= {"psnr_bicubic", "psnr_model", "psnr_gain", "ssim_gain"}


def test_paired_input_used_instead_of_downscale(portrait):
    lr = np.zeros((40, 40, 3), dtype=np.uint8)
    paired = SRImage("paired", portrait.hr, lr)
    evaluation = evaluate_model(_bicubic_only_model(), [paired], channel="y", border=4)
    # An all-black input upscales to black: PSNR against the portrait is low.
    assert evaluation.images[0].psnr_bicubic < 10


def test_no_images_rejected():
    with pytest.raises(ValueError, match="no images"):
        evaluate_model(_bicubic_only_model(), [])
