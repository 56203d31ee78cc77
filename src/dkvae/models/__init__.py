"""The networks as plain `torch.nn.Module`s, and `build_model`, which picks one from a `ModelConfig`."""

from __future__ import annotations

from torch import nn

from dkvae.core.config import AdversarialConfig, ModelConfig
from dkvae.models.autoencoder import Autoencoder
from dkvae.models.cgan import ConditionalGAN
from dkvae.models.classifier import DrumClassifier
from dkvae.models.codec import TimeLocalAutoencoder
from dkvae.models.vae import SEED_DEVIATIONS, ModelOutput, VariationalAutoencoder

__all__ = ["SEED_DEVIATIONS", "Autoencoder", "ConditionalGAN", "DrumClassifier", "ModelOutput", "TimeLocalAutoencoder", "VariationalAutoencoder", "build_model"]

MODELS: dict[str, type[nn.Module]] = {
    "vae": VariationalAutoencoder,
    "ae": Autoencoder,
    "cgan": ConditionalGAN,
    "classifier": DrumClassifier,
    "codec": TimeLocalAutoencoder,
}


def build_model(
    config: ModelConfig, input_shape: tuple[int, int], num_classes: int, adversarial: AdversarialConfig | None = None
) -> nn.Module:
    """The untrained network `config` describes, for inputs ``(batch, *input_shape)`` and `num_classes` classes.

    ``config.kind`` picks the model (vae, ae, cgan, classifier, codec) and ``config.architecture`` its body
    (conv, seed, dense; the classifier is conv only); `adversarial` shapes a GAN's discriminator. An
    unknown or unsupported choice is a ValueError.
    """
    if config.kind not in MODELS:
        raise ValueError(f"unknown model kind {config.kind!r}; choose one of {', '.join(MODELS)}")
    if config.kind == "cgan":
        return ConditionalGAN(config, tuple(input_shape), num_classes, adversarial)
    return MODELS[config.kind](config, tuple(input_shape), num_classes)
