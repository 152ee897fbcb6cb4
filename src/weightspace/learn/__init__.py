"""Hyper-representations: self-supervised encoders of model zoos (Schürholt et al. 2021, SANE 2024).

- tokens of a model: :func:`neuron_tokens` (one per unit, one architecture) and
  :func:`chunk_tokens` (fixed-size pieces, any architecture), over a :class:`WeightLayout`;
- :class:`HyperAutoencoder`: a transformer autoencoder with a compression token;
- augmentations (:class:`Permuter`, :func:`random_erase`, :func:`add_noise`) and losses
  (:func:`nt_xent`, :func:`masked_mse`);
- :func:`train_encoder`: seeded, resumable training into an encoder folder (safetensors + JSON);
- :func:`load_encoder` / :class:`Encoder`: embed models; :class:`HyperRepresentation` is the
  ``hyper`` representation of :mod:`weightspace.represent.registry`.

This package imports the representation, library and symmetry modules; they import it only
lazily, through the registry's ``hyper`` entry.
"""

from weightspace.learn.augment import Permuter, add_noise, random_erase
from weightspace.learn.checkpoint import EncoderFolderError
from weightspace.learn.encoder import Encoder, encoder_fingerprint, load_encoder
from weightspace.learn.layout import LearnError, WeightLayout
from weightspace.learn.losses import masked_mse, nt_xent, reconstruction_r2
from weightspace.learn.model import AutoencoderConfig, HyperAutoencoder
from weightspace.learn.represent import HyperRepresentation
from weightspace.learn.tokens import TokenMap, chunk_tokens, make_tokens, neuron_tokens
from weightspace.learn.train import EpochRecord, TrainResult, TrainSettings, train_encoder

__all__ = [
    "AutoencoderConfig",
    "Encoder",
    "EncoderFolderError",
    "EpochRecord",
    "HyperAutoencoder",
    "HyperRepresentation",
    "LearnError",
    "Permuter",
    "TokenMap",
    "TrainResult",
    "TrainSettings",
    "WeightLayout",
    "add_noise",
    "chunk_tokens",
    "encoder_fingerprint",
    "load_encoder",
    "make_tokens",
    "masked_mse",
    "neuron_tokens",
    "nt_xent",
    "random_erase",
    "reconstruction_r2",
    "train_encoder",
]
