"""Named presets: the best settings ``sparkgan benchmark modes`` found per benchmark.

A preset is a list of ``key=value`` overrides applied before the user's own,
so ``sparkgan train --preset grid train.seed=3`` works as expected.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkgan.config import ConfigError


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    overrides: tuple[str, ...]


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "digits",
            "the default digits job: DCGAN width 48, non-saturating loss, EMA",
            ("data.name=digits",),
        ),
        Preset(
            "ring",
            "8-mode ring: packed MLP discriminator, long EMA",
            (
                "data.name=ring",
                "train.steps=8000",
                "train.batch_size=256",
                "model.width=256",
                "remedies.pack=2",
                "train.ema_kimg=20",
            ),
        ),
        Preset(
            "grid",
            "25-mode grid: packed MLP discriminator, long EMA",
            (
                "data.name=grid",
                "train.steps=8000",
                "train.batch_size=256",
                "model.width=256",
                "remedies.pack=2",
                "train.ema_kimg=20",
            ),
        ),
        Preset(
            "stacked-digits",
            "1,000-mode stacked digits: packed DCGAN discriminator with minibatch std",
            (
                "data.name=stacked-digits",
                "train.steps=12000",
                "remedies.pack=2",
                "remedies.minibatch_std=4",
            ),
        ),
        Preset(
            "stacked-digits-4",
            "10,000-mode stacked digits: packed DCGAN discriminator with minibatch std",
            (
                "data.name=stacked-digits-4",
                "train.steps=12000",
                "remedies.pack=2",
                "remedies.minibatch_std=4",
            ),
        ),
    )
}


def preset_overrides(name: str | None) -> tuple[str, ...]:
    """Return a preset's overrides (none for ``None``).

    Raises:
        ConfigError: for an unknown preset name, listing the known ones.
    """
    if name is None:
        return ()
    try:
        return PRESETS[name].overrides
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)} (see sparkgan presets)") from None
